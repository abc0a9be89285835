//! A node's libp2p peer id, computed from its Ed25519 node key (as `init` prints it) before the
//! node runs, so every node can be given its peers' full addresses at start-up.
//!
//! The node derives its libp2p identity from its node key, so the peer id is the base58btc
//! encoding of the identity multihash of the protobuf-encoded public key (libp2p peer-id spec).

/// Multihash "identity" (0x00), length 36, then the protobuf `PublicKey { Type: Ed25519 (1),
/// Data: <32 bytes> }` header.
const ED25519_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// The peer id of the node whose public node key is `hex` (64 hex digits).
pub fn from_node_key(hex: &str) -> Option<String> {
    let key = decode_hex(hex.trim())?;
    if key.len() != 32 {
        return None;
    }
    let mut bytes = ED25519_PREFIX.to_vec();
    bytes.extend_from_slice(&key);
    Some(base58(&bytes))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn base58(bytes: &[u8]) -> String {
    // Little-endian base-58 digits, multiplied up one input byte at a time.
    let mut digits: Vec<u8> = Vec::new();
    for &b in bytes {
        let mut carry = u32::from(b);
        for d in &mut digits {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(
            digits
                .iter()
                .rev()
                .map(|&d| char::from(BASE58[usize::from(d)])),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_peer_id_a_running_node_reports() {
        // From a real node: `init` printed the node key, `status --json` the peer id.
        assert_eq!(
            from_node_key("4cd8b861452b67bfca5d154c7f48da976809de8817d218a070d82a81897aa8ce")
                .unwrap(),
            "12D3KooWEzLpeWz3rVgLLSRfceUmu3N8fP9E3Qi6AQyzUfs1xp6y"
        );
    }

    #[test]
    fn refuses_what_is_not_a_32_byte_hex_key() {
        assert_eq!(from_node_key("abcd"), None);
        assert_eq!(from_node_key(&"zz".repeat(32)), None);
        assert_eq!(from_node_key(&"a".repeat(63)), None);
    }

    #[test]
    fn base58_keeps_leading_zeros() {
        assert_eq!(base58(&[0, 0, 1]), "112");
        assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
    }
}
