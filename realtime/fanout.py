"""Revocation fan-out that reaches every socket: one Redis Stream read by every worker.

Why not the channel layer: channels-redis delivers a ``group_send`` through one
blocking pop per process, shared by every consumer of that process; a consumer
that stops while the pop is in flight cancels it, and the message it carried
(possibly for another connection) is gone. A revoked socket then stays open
until its next periodic re-check (up to ``HUB_PING_INTERVAL``).

Here a revocation is one entry in the stream :func:`keys.hub_revocations`,
written with a sequence number from :func:`keys.hub_revocations_seq` in one
script. Each worker process (each event loop) runs one reader that is no
consumer's: it follows the stream from the position it took before its first
connection re-checked its session, so a revocation committed after that re-check
is always read. The sequence number makes a loss visible: a gap (the stream was
trimmed past a reader that fell behind, Redis restarted or failed over) or a
read error is answered by re-checking every socket the worker holds, as is the
first read after Redis comes back.

Hook: a hub connection calls :func:`attach` before its session re-check and
:func:`detach` when it ends. The same registry serves :func:`drain`.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from sessions_core.conf import auth_settings
from sessions_core.errors import SessionExpired, SessionRevoked, StoreUnavailable
from sessions_core.store import keys as redis_keys
from sessions_core.store.client import REDIS_ERRORS, get_async_redis, get_redis

from realtime.auth import HubPrincipal, check_session

log = logging.getLogger(__name__)

# KEYS: stream, counter. ARGV: maxlen, sid, uid, reason. Returns the entry's sequence number.
PUBLISH = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'seq', seq, 'sid', ARGV[2], 'uid', ARGV[3], 'reason', ARGV[4])
return seq
"""

# KEYS: stream, counter. Returns {last sequence number or false, last entry id or false}:
# a reader's starting position, read atomically.
POSITION = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
return {redis.call('GET', KEYS[2]), last[1] and last[1][1] or false}
"""

#: XREAD blocks this long (below the client's socket timeout, so a quiet stream is no timeout).
BLOCK_MS = 1000
#: Session re-checks in flight at once while re-checking every local socket.
RECHECK_CONCURRENCY = 32
#: Pause after a failed read before the next try.
RETRY_AFTER = 0.5


class LocalConnection(Protocol):
    """What the fan-out needs of a hub connection (the consumer, whatever its transport)."""

    principal: HubPrincipal

    async def hub_revoked(self, event: dict[str, Any]) -> None: ...

    async def close(self, error: str | None, *, allow_reconnect: bool = False) -> None: ...


def publish_revocation(*, uid: int, sid: str, reason: str) -> int:
    """Append a revocation for every worker to read; returns its sequence number.

    Sync (the revoke services are). Raises a ``REDIS_ERRORS`` member when Redis
    cannot be reached; the caller decides what a lost fan-out means.
    """
    length = int(auth_settings.HUB_FANOUT_STREAM_LENGTH)
    r = get_redis()
    seq = r.eval(PUBLISH, 2, redis_keys.hub_revocations(), redis_keys.hub_revocations_seq(), length, sid, uid, reason)
    return int(seq)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Worker:
    """The connections one event loop holds, by session id, and the loop's stream reader."""

    def __init__(self) -> None:
        self.sessions: dict[str, set[LocalConnection]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.start_lock = asyncio.Lock()
        self.last_id = "0-0"
        self.last_seq = 0
        self.jobs: set[asyncio.Task[Any]] = set()

    def count(self) -> int:
        return sum(len(conns) for conns in self.sessions.values())

    def connections(self) -> list[LocalConnection]:
        return [conn for conns in self.sessions.values() for conn in conns]

    async def start(self) -> None:
        """Take the stream's current end as the position, then start reading (once)."""
        async with self.start_lock:
            if self.reader is not None and not self.reader.done():
                return
            seq, last_id = await get_async_redis().eval(
                POSITION, 2, redis_keys.hub_revocations(), redis_keys.hub_revocations_seq())
            # The counter, not the last entry: entries may be gone (trimmed, lost) while it stays.
            self.last_seq = int(_text(seq)) if seq else 0
            self.last_id = _text(last_id) if last_id else "0-0"
            self.reader = asyncio.ensure_future(self.read())

    def stop_if_idle(self) -> None:
        if not self.sessions and self.reader is not None:
            self.reader.cancel()
            self.reader = None

    async def read(self) -> None:
        """Follow the stream until cancelled; a gap or a failed read re-checks every socket."""
        key = redis_keys.hub_revocations()
        me = asyncio.current_task()
        failed = False
        while self.reader is me:
            try:
                answer: Any = await get_async_redis().xread({key: self.last_id}, count=500, block=BLOCK_MS)
            except REDIS_ERRORS:
                if not failed:
                    log.warning("hub fan-out: cannot read the revocation stream; will re-check every socket")
                failed = True
                await asyncio.sleep(RETRY_AFTER)
                continue
            # A read that outlived its cancellation (a replaced reader) delivers nothing.
            if self.reader is not me:
                return
            gap = failed
            failed = False
            for _stream, entries in answer or []:
                for entry_id, raw in entries:
                    fields = {_text(k): _text(v) for k, v in raw.items()}
                    seq = int(fields["seq"])
                    if seq != self.last_seq + 1:
                        gap = True
                    self.last_id, self.last_seq = _text(entry_id), seq
                    self.deliver(fields["sid"], fields["reason"])
            if gap:
                log.warning("hub fan-out: revocations may have been missed; re-checking every socket")
                self.spawn(self.recheck_all())

    def spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    def deliver(self, sid: str, reason: str) -> None:
        for conn in list(self.sessions.get(sid, ())):
            # One task per socket: a slow client's send never holds up the stream.
            self.spawn(conn.hub_revoked({"type": "hub.revoked", "reason": reason}))

    async def recheck_all(self) -> None:
        """Check every local socket's session; close those that ended."""
        gate = asyncio.Semaphore(RECHECK_CONCURRENCY)

        async def one(conn: LocalConnection) -> None:
            async with gate:
                try:
                    await check_session(conn.principal)
                except (SessionRevoked, SessionExpired) as e:
                    await conn.hub_revoked({"type": "hub.revoked", "reason": str(getattr(e, "reason", "") or e.code)})
                except StoreUnavailable:
                    pass  # Its periodic check tries again.

        await asyncio.gather(*(one(conn) for conn in self.connections()))


_workers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Worker]" = weakref.WeakKeyDictionary()


def _worker() -> _Worker:
    loop = asyncio.get_running_loop()
    worker = _workers.get(loop)
    if worker is None:
        worker = _workers[loop] = _Worker()
    return worker


async def attach(conn: LocalConnection) -> None:
    """Register ``conn`` for revocations of its session. Call before re-checking the session:
    once this returns, every revocation published later reaches ``conn``.

    Raises a ``REDIS_ERRORS`` member if the stream position cannot be read (first connection only).
    """
    worker = _worker()
    worker.sessions.setdefault(conn.principal.sid, set()).add(conn)
    try:
        await worker.start()
    except BaseException:
        detach(conn)
        raise


def detach(conn: LocalConnection) -> None:
    """Forget ``conn`` (idempotent); the reader stops with the loop's last connection."""
    loop = asyncio.get_running_loop()
    worker = _workers.get(loop)
    if worker is None:
        return
    conns = worker.sessions.get(conn.principal.sid)
    if conns is not None:
        conns.discard(conn)
        if not conns:
            del worker.sessions[conn.principal.sid]
    worker.stop_if_idle()


def local_connections() -> list[LocalConnection]:
    """The connections this event loop holds."""
    worker = _workers.get(asyncio.get_running_loop())
    return worker.connections() if worker else []


async def drain(error: str, *, timeout: float) -> int:
    """Close every local connection with a close that allows reconnect; wait (at most
    ``timeout`` seconds) until they have all ended. Returns how many were still open."""
    conns = local_connections()
    await asyncio.gather(*(conn.close(error, allow_reconnect=True) for conn in conns), return_exceptions=True)
    deadline = asyncio.get_running_loop().time() + timeout
    while local_connections() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return len(local_connections())
