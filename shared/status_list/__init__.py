"""Token Status List (draft-ietf-oauth-status-list): reading and checking the lists an issuer publishes."""

from ..errors import StatusUnavailable
from .bits import StatusListError, decode_lst, encode_lst, status_at
from .cache import StatusListCache
from .token import STATUS_LIST_TYP, StatusListRefused, verify_status_list_token

__all__ = [
    "STATUS_LIST_TYP",
    "StatusListCache",
    "StatusListError",
    "StatusListRefused",
    "StatusUnavailable",
    "decode_lst",
    "encode_lst",
    "status_at",
    "verify_status_list_token",
]
