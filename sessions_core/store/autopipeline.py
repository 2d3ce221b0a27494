"""Coalesce hot-path script calls made in the same event-loop tick into one pipeline.

Under load a worker has many requests in flight; each still costs exactly one
Redis round trip, but the round trips that start together share one write and
one read (as ioredis's auto-pipelining does), which roughly halves the client
CPU spent per request (see bench/http_auth.py). Scripts run by SHA; after a
Redis restart (empty script cache) the batch reloads the script and retries once.
"""
from __future__ import annotations

import asyncio
import hashlib
import weakref
from typing import Any

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError, NoScriptError, RedisError

_batchers: "weakref.WeakKeyDictionary[Any, _Batcher]" = weakref.WeakKeyDictionary()


class _Batcher:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.pending: list[tuple[str, str, tuple[Any, ...], asyncio.Future[Any]]] = []

    def submit(self, script: str, keys_and_args: tuple[Any, ...], numkeys: int) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self.pending:
            loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        self.pending.append((script, hashlib.sha1(script.encode()).hexdigest(), (numkeys, *keys_and_args), fut))
        return fut

    async def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            try:
                results = await self._run(batch)
            except NoScriptError:
                for script in {b[0] for b in batch}:
                    await self.client.script_load(script)
                results = await self._run(batch)
            for (_, _, _, fut), res in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(res, Exception):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
        except (RedisError, OSError) as e:
            # Every caller of the batch gets the error (the store maps it to StoreUnavailable).
            _fail(batch, e)
        finally:
            # Cancelled or failed in an unexpected way: no caller may wait forever.
            _fail(batch, RedisConnectionError("pipeline aborted"))

    async def _run(self, batch: list[tuple[str, str, tuple[Any, ...], "asyncio.Future[Any]"]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for _, sha, args, _fut in batch:
            pipe.evalsha(sha, *args)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in results):
            raise NoScriptError("script cache empty")
        return results


def _fail(batch: list[tuple[str, str, tuple[Any, ...], "asyncio.Future[Any]"]], exc: BaseException) -> None:
    for *_, fut in batch:
        if not fut.done():
            fut.set_exception(exc)


async def run_script(client: Any, script: str, numkeys: int, *keys_and_args: Any) -> Any:
    """EVALSHA ``script`` on ``client``, batched with the calls started in the same tick."""
    if isinstance(client, AsyncRedisCluster):
        return await _run_on_cluster(client, script, numkeys, keys_and_args)
    batcher = _batchers.get(client)
    if batcher is None:
        batcher = _batchers[client] = _Batcher(client)
    return await batcher.submit(script, keys_and_args, numkeys)


async def _run_on_cluster(client: Any, script: str, numkeys: int, keys_and_args: tuple[Any, ...]) -> Any:
    """One script call on a Redis Cluster (redis-py refuses EVALSHA in cluster pipelines).

    The call goes to the node owning the keys' slot; a node without the script in
    its cache gets EVAL, which also caches it there.
    """
    try:
        return await client.evalsha(hashlib.sha1(script.encode()).hexdigest(), numkeys, *keys_and_args)
    except NoScriptError:
        return await client.eval(script, numkeys, *keys_and_args)
