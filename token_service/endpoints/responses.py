"""Response helpers shared by the endpoints."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_encoder = msgspec.json.Encoder()
# The JSON bytes of a body, as every JSON answer here encodes them.
encode_json = _encoder.encode


def json_response(body: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(content=_encoder.encode(body), status_code=status_code, media_type="application/json", headers=headers)


def no_store_json(body: Any, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return json_response(body, status_code=status_code, headers={**NO_STORE, **(headers or {})})
