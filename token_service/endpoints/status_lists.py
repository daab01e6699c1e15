"""Status list tokens (draft-ietf-oauth-status-list §8) and their aggregation (§9.3), served from memory."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from token_service.endpoints.discovery import FROM_MEMORY, etag_matches
from token_service.errors import NotFound, StatusListGone
from token_service.http.injected import Injected
from litestar.params import FromPath
from token_service.observability.metrics import TokenServiceMetrics
from token_service.status import PublishedStatusLists

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"


@get("/statuslists/{list_id:str}", summary="Status list token (draft-ietf-oauth-status-list)", opt=FROM_MEMORY)
async def status_list(
    request: Request[Any, Any, State], list_id: FromPath[str], status_lists: Injected[PublishedStatusLists], metrics: Injected[TokenServiceMetrics]
) -> Response[bytes]:
    built = await status_lists.find(list_id)
    if built is True:
        metrics.status_list_responses.labels("410").inc()
        raise StatusListGone(f"status list {list_id} has expired: every token indexed in it has expired too")
    if built is False:
        metrics.status_list_responses.labels("404").inc()
        raise NotFound("no such status list")
    headers = {"ETag": built.etag, "Cache-Control": f"public, max-age={status_lists.ttl}", "Access-Control-Allow-Origin": "*"}
    if etag_matches(request.headers.get("if-none-match"), built.etag):
        metrics.status_list_responses.labels("304").inc()
        return Response(content=b"", status_code=304, headers=headers)
    metrics.status_list_responses.labels("200").inc()
    return Response(content=built.token, media_type=STATUS_LIST_MEDIA_TYPE, headers=headers)


@get("/statuslists", summary="Status list aggregation (draft-ietf-oauth-status-list §9.3)", opt=FROM_MEMORY)
async def status_list_aggregation(status_lists: Injected[PublishedStatusLists]) -> Response[bytes]:
    return Response(
        content=status_lists.aggregation,
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={status_lists.ttl}", "Access-Control-Allow-Origin": "*"},
    )
