"""Requests the token service makes to URLs that clients supplied (client `jwks_uri`,
client metadata documents): one fetcher that refuses to be turned against the
service's own network (SSRF), caps size and time, and accepts only JSON."""

from token_service.outbound.addresses import is_public_address, url_problem
from token_service.outbound.fetcher import FetchedDocument, FetchPolicy, OutboundError, OutboundFetcher, OutboundRefused

__all__ = ["FetchPolicy", "FetchedDocument", "OutboundError", "OutboundFetcher", "OutboundRefused", "is_public_address", "url_problem"]
