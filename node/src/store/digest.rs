//! Set fingerprints of a topic's event ids: count plus the 256-bit wrapping sum of the ids
//! (the same construction negentropy uses), hashed to 16 bytes. Order-free and updated in
//! O(1) per stored event, so two nodes can compare whole topics without listing them.

use sha2::{Digest, Sha256};

/// Adds an id (as a little-endian 256-bit number) to a running sum, wrapping.
pub fn add(sum: &mut [u8; 32], id: &[u8; 32]) {
    let mut carry = 0u16;
    for (s, b) in sum.iter_mut().zip(id) {
        let v = u16::from(*s) + u16::from(*b) + carry;
        *s = v as u8;
        carry = v >> 8;
    }
}

/// The 16-byte fingerprint of a topic's set.
pub fn fingerprint(count: u64, sum: &[u8; 32]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(sum);
    h.update(count.to_le_bytes());
    truncate(h.finalize().into())
}

/// One fingerprint over several topics' fingerprints, in the given order.
pub fn combine<'a>(fingerprints: impl IntoIterator<Item = &'a [u8; 16]>) -> [u8; 16] {
    let mut h = Sha256::new();
    for fp in fingerprints {
        h.update(fp);
    }
    truncate(h.finalize().into())
}

fn truncate(full: [u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_free_and_sensitive_to_membership() {
        let (a, b, c) = ([1u8; 32], [0xffu8; 32], [7u8; 32]);
        let (mut s1, mut s2) = ([0u8; 32], [0u8; 32]);
        add(&mut s1, &a);
        add(&mut s1, &b);
        add(&mut s2, &b);
        add(&mut s2, &a);
        assert_eq!(fingerprint(2, &s1), fingerprint(2, &s2));
        let mut s3 = s2;
        add(&mut s3, &c);
        assert_ne!(fingerprint(3, &s3), fingerprint(2, &s2));
        // Carries propagate: 0xff.. + 1.. wraps.
        assert_eq!(s1[0], 0x00);
        assert_eq!(s1[1], 0x01);
    }
}
