"""Token Status List (draft-ietf-oauth-status-list) for our access tokens: indices, revocation, publication."""

from token_service.status.indices import StatusIndices, status_list_uri
from token_service.status.published import STATUS_LIST_TYP, OwnStatusLists, PublishedStatusLists
from token_service.status.revocations import Revoked, StatusRevocations
from token_service.status.store import StatusListStore, status_list_store

__all__ = [
    "STATUS_LIST_TYP",
    "OwnStatusLists",
    "PublishedStatusLists", "Revoked", "StatusIndices", "StatusListStore", "StatusRevocations", "status_list_store", "status_list_uri"]
