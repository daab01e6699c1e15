"""DPoP (RFC 9449) at the token service: proofs on token requests, server nonces."""
