"""The status list tokens this instance serves, built once per change and held in memory.

Every instance polls the lists' revisions (one small query every `POLL_SECONDS`); a list
whose revision moved is rebuilt (its revoked indices read, compressed, signed) and then
served from memory to every request, also while the database is down. A token is re-signed
before half its lifetime has passed, so a list served from memory never expires. A list
whose tokens have all expired is dropped and answered 410 Gone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass

import msgspec

from shared.errors import StatusUnavailable
from shared.status_list import decode_lst, encode_lst
from shared.status_list.token import VerifiedStatusList
from token_service.clock import Clock, epoch_seconds
from token_service.status.indices import status_list_uri
from token_service.status.revocations import POLL_SECONDS
from token_service.status.store import ListState, StatusListStore
from token_service.tokens.signer import TokenSigner

log = logging.getLogger("token_service.status")

STATUS_LIST_TYP = "statuslist+jwt"
# A status list token's lifetime (`exp` - `iat`); it is re-signed at half of it.
TOKEN_LIFETIME = 3600
PURGE_EVERY = 60.0
LIST_ID = re.compile("[0-9a-f]{16}")  # store.reserve names lists with 8 random bytes in hex


@dataclass(frozen=True)
class BuiltList:
    token: bytes
    etag: str
    revision: int
    expires_at: int
    built_at: int
    packed: bytes
    """The statuses as the token carries them, for this service's own verifiers."""

    @property
    def verified(self) -> VerifiedStatusList:
        # The shape the shared status rule reads (packed bits); our own list needs no fetch.
        return VerifiedStatusList("", self.packed, 1, None, None)


def status_list_claims(*, uri: str, now: int, ttl: int, lst: str) -> dict[str, object]:
    """draft-ietf-oauth-status-list §5.1: `sub` is the list's URI."""
    return {"sub": uri, "iat": now, "exp": now + TOKEN_LIFETIME, "ttl": ttl, "status_list": {"bits": 1, "lst": lst}}


class PublishedStatusLists:
    def __init__(self, store: StatusListStore, signer: TokenSigner, *, issuer: str, ttl: int, clock: Clock) -> None:
        self._store = store
        self._signer = signer
        self._issuer = issuer
        self.ttl = ttl
        self._clock = clock
        self._built: dict[str, BuiltList] = {}
        self._gone: set[str] = set()
        self._wake = asyncio.Event()
        self._syncing: asyncio.Task[None] | None = None
        # One sync at a time: two interleaved could store an older build over a newer one.
        self._sync_lock = asyncio.Lock()
        self._syncs_started = 0
        self.aggregation = msgspec.json.encode({"status_lists": []})

    def get(self, list_id: str) -> BuiltList | None:
        return self._built.get(list_id)

    def fresh(self, uri: str) -> BuiltList | None:
        """The list a token's `status.uri` names, if it is one of ours held now."""
        prefix = status_list_uri(self._issuer, "")
        return self._built.get(uri[len(prefix):]) if uri.startswith(prefix) else None

    async def get_by_uri(self, uri: str) -> BuiltList:
        """The list of ours at `uri`; one started by another instance a moment ago is loaded first."""
        prefix = status_list_uri(self._issuer, "")
        found = await self.find(uri[len(prefix):]) if uri.startswith(prefix) else False
        if isinstance(found, BuiltList):
            return found
        raise StatusUnavailable(f"{uri[:120]!r} is not a current status list of {self._issuer}")

    def changed(self) -> None:
        """Lists changed on this instance (a reservation, a fence applied): rebuild now instead of at the next poll."""
        self._wake.set()

    async def reflect_revocation(self) -> None:
        """A revocation on this instance: the lists served here show it before it is answered,
        so an API that fetches a list right after a revocation never caches the old one."""
        started_before = self._syncs_started
        try:
            async with self._sync_lock:
                # A sync that started after the call read the revocation: a burst of them waits
                # for one sync, not one each.
                if self._syncs_started == started_before:
                    await self._sync()
        except Exception as exc:  # the revocation is committed; the next poll rebuilds
            log.warning("status lists not rebuilt after a revocation (the next poll retries): %s: %s", type(exc).__name__, exc)
            self._wake.set()

    def _build(self, state: ListState, revoked: list[int], now: int) -> BuiltList:
        lst = encode_lst(state.size, revoked)
        claims = status_list_claims(uri=status_list_uri(self._issuer, state.id), now=now, ttl=self.ttl, lst=lst)
        token = self._signer.sign(claims, STATUS_LIST_TYP)[0].encode("ascii")
        return BuiltList(token, _etag(token), state.revision, state.expires_at, now, decode_lst(lst, max_bytes=state.size))

    async def sync(self) -> None:
        """Rebuild what changed in the database; drop what expired."""
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        self._syncs_started += 1
        now = epoch_seconds(self._clock)
        states = await self._store.lists(now)
        current = {state.id for state in states}
        for list_id in [list_id for list_id in self._built if list_id not in current]:
            del self._built[list_id]
            self._gone.add(list_id)
        for state in states:
            built = self._built.get(state.id)
            if built is None or built.revision != state.revision:
                revoked = await self._store.revoked_indices(state.id)
                self._built[state.id] = self._build(state, revoked, epoch_seconds(self._clock))
            elif built.expires_at != state.expires_at:
                self._built[state.id] = BuiltList(built.token, built.etag, built.revision, state.expires_at, built.built_at, built.packed)
        self.resign_due(now)
        self.aggregation = msgspec.json.encode({"status_lists": sorted(status_list_uri(self._issuer, i) for i in self._built)})

    def resign_due(self, now: int) -> None:
        """Re-sign tokens past half their lifetime: needs only the key in memory, not the database."""
        for list_id, built in list(self._built.items()):
            if now - built.built_at >= TOKEN_LIFETIME // 2:
                lst = msgspec.json.decode(_payload(built.token))["status_list"]["lst"]
                claims = status_list_claims(uri=status_list_uri(self._issuer, list_id), now=now, ttl=self.ttl, lst=lst)
                token = self._signer.sign(claims, STATUS_LIST_TYP)[0].encode("ascii")
                self._built[list_id] = BuiltList(token, _etag(token), built.revision, built.expires_at, now, built.packed)

    async def find(self, list_id: str) -> BuiltList | bool:
        """The list; else whether it existed once (True: 410 Gone) or never (False: 404).

        A list another instance started a moment ago is not held yet: one sync (shared by
        concurrent requests) picks it up before the answer is "no such list".
        """
        built = self._built.get(list_id)
        if built is not None:
            return built
        if list_id in self._gone:
            return True
        if not LIST_ID.fullmatch(list_id):
            return False  # not one of ours: no database lookup for made-up names
        try:
            if not await self._store.known(list_id):
                return False
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.get_running_loop().create_task(self.sync())
            await asyncio.shield(self._syncing)
        except Exception:
            return list_id in self._gone
        return self._built.get(list_id) or True

    async def start(self) -> asyncio.Task[None]:
        """Loads the lists (before the first request), then keeps them current in a task."""
        await self.sync()
        return asyncio.get_running_loop().create_task(self.run(), name="status-lists")

    @staticmethod
    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        """Poll for changes forever; a failing database leaves the lists served as they were."""
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()  # before syncing: a revocation during the sync wakes the next one
            try:
                await self.sync()
                if loop.time() - last_purge >= PURGE_EVERY:
                    last_purge = loop.time()
                    await self._store.purge(epoch_seconds(self._clock))
            except Exception as exc:
                log.warning("status lists not refreshed (serving the ones held): %s: %s", type(exc).__name__, exc)
                now = epoch_seconds(self._clock)
                self.resign_due(now)
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except TimeoutError:
                pass


def _etag(token: bytes) -> str:
    return '"' + hashlib.sha256(token).hexdigest()[:32] + '"'


def _payload(token: bytes) -> bytes:
    segment = token.split(b".")[1]
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


class OwnStatusLists:
    """The shared status rule's resolver (shared.rules.status) for this service's own verifiers
    (introspection, revocation, userinfo): our lists, read from memory, never over HTTP."""

    def __init__(self, published: PublishedStatusLists) -> None:
        self._published = published

    def fresh(self, uri: str) -> BuiltList | None:
        return self._published.fresh(uri)

    async def get(self, uri: str) -> BuiltList:
        return await self._published.get_by_uri(uri)
