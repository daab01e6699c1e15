"""What makes two typed usernames the same account.

One function for storing a user, looking one up at sign-in and keying every
per-username limit: if the limit used a looser form than sign-in (say `.lower()`),
" demo", "DEMO   ", "ｄｅｍｏ" and "demo\\u00a0" would each get fresh attempts at the
same account.
"""

from __future__ import annotations

import unicodedata

MAX_USERNAME_LENGTH = 200


def canonical_username(username: str) -> str:
    # NFKC folds compatibility forms (full-width letters, no-break space) onto their
    # plain forms; casefold is the Unicode caseless match ("Straße" = "STRASSE").
    return unicodedata.normalize("NFKC", username).strip().casefold()


def username_key(username: str) -> str:
    """The canonical form, cut to the longest valid username: a limit or log key for any
    input, valid or not, whose size the caller does not control."""
    return canonical_username(username[: MAX_USERNAME_LENGTH * 4])[:MAX_USERNAME_LENGTH]
