"""Building and signing access tokens (RFC 9068) and ID tokens (OpenID Connect Core)."""
