#!/usr/bin/env python3
"""Checks every item of a fedci evidence bundle with libraries that share no code with fedci.

A bundle is a CBOR sequence (RFC 8742) of COSE_Sign1 messages (RFC 9052, tag 18). For each
item this script decodes it with cbor2, rebuilds the Sig_structure
["Signature1", protected, external_aad = b"", payload], verifies the Ed25519 signature with
`cryptography` against the key in the protected header's kid (label 4), and prints the event
id (SHA-256 of the payload) with its kind and community. With ROOT arguments
(COMMUNITY=HEX), each trust.roster item must also be signed by its community's root.

Usage: verify_bundle.py BUNDLE [COMMUNITY=ROOTHEX ...]
Exit 0 if every item verifies, 1 otherwise (one FAIL line per item that does not).
"""
import hashlib
import io
import sys

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def items(data):
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        yield cbor2.CBORDecoder(stream).decode()


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    roots = dict(a.split("=", 1) for a in argv[2:])
    with open(argv[1], "rb") as f:
        data = f.read()
    failures = 0
    for n, item in enumerate(items(data)):
        if not (isinstance(item, cbor2.CBORTag) and item.tag == 18 and len(item.value) == 4):
            print(f"FAIL item {n}: not a tagged COSE_Sign1")
            failures += 1
            continue
        protected, unprotected, payload, signature = item.value
        header = cbor2.loads(protected)
        event_id = hashlib.sha256(payload).hexdigest()
        body = cbor2.loads(payload)
        if header.get(1) != -8:
            print(f"FAIL {event_id[:12]}: alg is not EdDSA")
            failures += 1
            continue
        kid = header[4]
        to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
        try:
            Ed25519PublicKey.from_public_bytes(kid).verify(signature, to_sign)
        except InvalidSignature:
            print(f"FAIL {event_id[:12]}: bad signature")
            failures += 1
            continue
        if body["author"] != kid:
            print(f"FAIL {event_id[:12]}: author is not the kid")
            failures += 1
            continue
        root = roots.get(body["community"])
        if body["kind"] == "trust.roster" and root is not None and kid.hex() != root:
            print(f"FAIL {event_id[:12]}: roster not signed by the root given")
            failures += 1
            continue
        print(f"OK {event_id} {body['kind']} {body['community']} signer {kid.hex()[:12]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
