"""Token shape: a compact JWS within the size cap, a readable header, a JSON payload.

Nothing is parsed before the size cap; header and payload JSON are read strictly
(`jose_json`), so two parsers cannot disagree about what a token says.
"""

from __future__ import annotations

import base64
import re

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.util import urlsafe_b64decode

from .jose_json import DuplicateMember, NestedTooDeeply, strict_json
from .rule import Rule, TokenUnderCheck, reject

__all__ = ["FORMAT", "HEADER", "PAYLOAD"]

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_SEGMENT_NAMES = ("header", "payload", "signature")


def check_format(t: TokenUnderCheck) -> None:
    token = t.token
    if not isinstance(token, str):
        raise reject("format", f"the token must be a string, got {type(token).__name__}")
    # len() counts characters, never more than the UTF-8 bytes, so this cap holds
    # before anything is decoded; non-ASCII is refused right after.
    if len(token) > t.policy.max_token_bytes:
        raise reject("format", f"the token is {len(token)} bytes, over the {t.policy.max_token_bytes}-byte limit")
    if not token.isascii():
        raise reject("format", "the token contains non-ASCII characters; a JWT is base64url text")
    if not _COMPACT_JWS.fullmatch(token):
        raise reject("format", _format_problem(token))
    t.token_bytes = token.encode("ascii")


def _format_note(t: TokenUnderCheck) -> str:
    return f"compact JWS, {len(t.token)} bytes"


def _format_problem(token: str) -> str:
    segments = token.split(".")
    if len(segments) == 5:
        return "the token has 5 segments, so it is an encrypted JWT (JWE); send a signed access token (JWS, 3 segments)"
    if len(segments) != 3:
        return (
            f"the token has {len(segments)} dot-separated segment(s), expected 3 (header.payload.signature); "
            "is it an opaque token or an authorization code rather than a JWT access token?"
        )
    for name, segment in zip(_SEGMENT_NAMES, segments, strict=True):
        if not segment:
            extra = " (unsigned tokens are not accepted)" if name == "signature" else ""
            return f"the {name} segment is empty{extra}"
        if not _BASE64URL.fullmatch(segment):
            return f"the {name} segment is not base64url (only A-Z a-z 0-9 - _ are allowed, no padding)"
    return "the token is not a compact JWS"


_HEADER_TOO_DEEP = "the header nests JSON too deeply to be read"


def check_header(t: TokenUnderCheck) -> None:
    assert t.token_bytes is not None
    compact = _extract_plain(t.token_bytes, t.policy.registry)
    if compact is None:
        compact = _extract_checked(t.token_bytes, t.policy.registry)
    t.compact = compact
    t.header = compact.protected


def _extract_plain(token_bytes: bytes, registry: jws.JWSRegistry) -> jws.CompactSignature | None:
    """The usual token, with its header JSON parsed once, strictly; None for anything else.

    joserfc's extract_compact parses the header with last-wins json.loads, so refusing
    duplicate members meant parsing it a second time. Here the strict parse is the only
    one, and every step is joserfc's own (its size limits, its strict base64url decoder,
    its CompactSignature), in the order of its extract_rfc7515_compact (joserfc 1.8, as
    locked; tests compare the two). A header the strict decoder reads without error
    (valid UTF-8, no repeated member, no NaN) is exactly the dict joserfc's json.loads
    would give. Whatever is not plain (a size over a limit, undecodable or non-object or
    repeated-member JSON, no alg, a b64 member) returns None, and `_extract_checked`, the
    general path, finds the problem and words it.
    """
    parts = token_bytes.split(b".")
    if len(parts) != 3:
        return None
    header_segment, payload_segment, signature_segment = parts
    try:
        registry.validate_compact_value_size(token_bytes)
        registry.validate_header_size(header_segment)
        registry.validate_signature_size(signature_segment)
        registry.validate_payload_size(payload_segment)
        header = strict_json(urlsafe_b64decode(header_segment))
        # RFC 7797 b64 changes what the payload segment means: left to joserfc's own reading.
        if type(header) is not dict or "alg" not in header or "b64" in header:
            return None
        payload = urlsafe_b64decode(payload_segment)
    except (JoseError, ValueError):
        return None
    compact = jws.CompactSignature(header, payload)
    compact.segments.update({"header": header_segment, "payload": payload_segment, "signature": signature_segment})
    return compact


def _extract_checked(token_bytes: bytes, registry: jws.JWSRegistry) -> jws.CompactSignature:
    """joserfc's extract_compact and then the strict header parse: every rejection, worded."""
    try:
        compact = jws.extract_compact(token_bytes, registry=registry)
    except JoseError as exc:
        raise reject("header", f"the token could not be decoded: {exc.description or exc.error}") from None
    except RecursionError:
        # joserfc's json.loads on a header like [[[[...]]]]: any client can send one, before
        # any signature is checked, so it must end as a 401 and not as an unhandled error.
        raise reject("header", _HEADER_TOO_DEEP) from None
    header = compact.headers()
    if not isinstance(header, dict):
        raise reject("header", "the header is not a JSON object")
    # joserfc parses the header with last-wins json.loads; parse it again refusing
    # duplicates, so {"alg":"none","alg":"RS256"} cannot mean two things.
    try:
        strict_json(base64.urlsafe_b64decode(token_bytes.split(b".", 1)[0] + b"==="))
    except DuplicateMember as exc:
        raise reject("header", f"the header repeats the {exc.name!r} member (RFC 7515 §5.2)") from None
    except NestedTooDeeply:
        raise reject("header", _HEADER_TOO_DEEP) from None
    except ValueError:
        raise reject("header", "the header is not valid JSON") from None
    return compact


def _header_note(t: TokenUnderCheck) -> str:
    assert t.header is not None
    return f"header names {', '.join(sorted(t.header))}"


def check_payload(t: TokenUnderCheck) -> None:
    assert t.compact is not None
    try:
        claims = strict_json(t.compact.payload)
    except DuplicateMember as exc:
        raise reject("payload", f"the payload repeats the {exc.name!r} claim (RFC 7519 §4)") from None
    except NestedTooDeeply:
        raise reject("payload", "the payload nests JSON too deeply to be read") from None
    except ValueError:
        raise reject("payload", "the payload is not valid JSON") from None
    if not isinstance(claims, dict):
        raise reject("payload", "the payload is not a JSON object of claims")
    t.claims = claims


def _payload_note(t: TokenUnderCheck) -> str:
    assert t.claims is not None
    return f"{len(t.claims)} claims"


FORMAT = Rule("format", "a compact JWS (three base64url segments) within the size limit", check_format, _format_note)
HEADER = Rule("header", "a decodable JOSE header", check_header, _header_note, ("token_bytes",))
PAYLOAD = Rule("payload", "the payload is a JSON object of claims", check_payload, _payload_note, ("compact",))
