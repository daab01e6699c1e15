"""Signing keys: generation, encryption at rest, lifecycle and the published JWKS."""
