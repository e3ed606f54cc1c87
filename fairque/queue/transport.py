"""What the sync and async transports share: client construction and error translation."""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aredis
import redis.exceptions as rex
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from fairque.core.config import RedisConfig
from fairque.core.exceptions import (
    ConnectionProblem,
    FairQueueError,
    ServerError,
    ServerOutOfMemory,
    ServerUnreachable,
)
from fairque.queue.ops import Call, CommandCall, translate_error
from fairque.util import mask_url

# A plain client, or a cluster client (redis.cluster = true): redis-py follows MOVED/ASK and
# retries TRYAGAIN itself; every key of a queue shares one hash tag, so one slot.
SyncClient: TypeAlias = redis.Redis | RedisCluster
AsyncClient: TypeAlias = aredis.Redis | AsyncRedisCluster


# redis-py retries a failed command ten times with a jittered backoff by default (about 3 s
# against a closed port, far longer when each try waits for a socket timeout), hidden from the
# caller. fairque retries itself, with a backoff it states (workers: 0.05 s doubling to 2 s),
# so the client tries once more at once (a pooled connection that went stale when the server
# restarted) and then reports the problem.
def one_retry() -> Retry:
    return Retry(NoBackoff(), 1)


def one_async_retry() -> AsyncRetry:
    return AsyncRetry(NoBackoff(), 1)


def make_client(cfg: RedisConfig) -> SyncClient:
    if cfg.cluster:
        return RedisCluster.from_url(cfg.url, **client_options(cfg))
    return redis.Redis.from_url(cfg.url, retry=one_retry(), **client_options(cfg))


def make_async_client(cfg: RedisConfig) -> AsyncClient:
    if cfg.cluster:
        return AsyncRedisCluster.from_url(cfg.url, **client_options(cfg))
    return aredis.Redis.from_url(cfg.url, retry=one_async_retry(), **client_options(cfg))


def node_client(cfg: RedisConfig, host: str, port: int) -> aredis.Redis:
    """A plain asyncio client for one cluster node: the URL's credentials, TLS and options."""
    url = urlsplit(cfg.url)
    auth = url.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return aredis.Redis.from_url(
        urlunsplit(url._replace(netloc=netloc)), retry=one_async_retry(), **client_options(cfg)
    )


def plain_pool(client: SyncClient | AsyncClient) -> Any | None:
    """A plain client's connection pool; None for a cluster client (a pool per node)."""
    if isinstance(client, RedisCluster | AsyncRedisCluster):
        return None
    return client.connection_pool


def client_options(cfg: RedisConfig) -> dict[str, Any]:
    """Keyword arguments for ``Redis.from_url`` (sync or asyncio)."""
    return {
        "decode_responses": True,
        # A corrupt (non-UTF-8) value must not crash a worker; the JSON check then fails
        # and the task is buried with a reason.
        "encoding_errors": "replace",
        "socket_timeout": cfg.socket_timeout,
        "socket_connect_timeout": cfg.socket_connect_timeout,
        "max_connections": cfg.max_connections,
        "health_check_interval": 30,
        **tls_options(cfg),
    }


def tls_options(cfg: RedisConfig) -> dict[str, Any]:
    """redis-py's ssl_* options when the URL asks for TLS (rediss://); none otherwise."""
    if not cfg.url.startswith("rediss://"):
        return {}
    options: dict[str, Any] = {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": cfg.tls_check_hostname,
    }
    if cfg.tls_ca_file:
        options["ssl_ca_certs"] = cfg.tls_ca_file
    if cfg.tls_cert_file:
        options["ssl_certfile"] = cfg.tls_cert_file
        options["ssl_keyfile"] = cfg.tls_key_file
    return options


def settle(step: Call | list[Call], replies: list[Any]) -> list[Any]:
    """A pipeline's replies (run with ``raise_on_error=False``): the first error of a strict
    call is raised; a lenient call's error becomes None."""
    calls = step if isinstance(step, list) else [step]
    out = []
    for call, reply in zip(calls, replies, strict=True):
        if isinstance(reply, Exception) and not (isinstance(call, CommandCall) and call.lenient):
            raise reply
        out.append(None if isinstance(reply, Exception) else reply)
    return out


def translate(exc: Exception, url: str) -> FairQueueError:
    """Map a redis-py exception to fairque's typed errors (one line, password masked)."""
    if isinstance(exc, rex.AuthenticationError | rex.AuthorizationError):
        return ConnectionProblem(f"server at {mask_url(url)} refused the credentials: {exc}")
    if isinstance(exc, rex.ConnectionError) and _is_tls_failure(str(exc)):
        return ConnectionProblem(f"TLS handshake with {mask_url(url)} failed: {exc}")
    if isinstance(exc, rex.ConnectionError | rex.TimeoutError):
        return ServerUnreachable(f"cannot reach the server at {mask_url(url)}: {exc}")
    if isinstance(exc, rex.RedisClusterException):
        return ServerError(f"cluster: {exc}")
    if isinstance(exc, rex.ResponseError):
        text = str(exc)
        if text.startswith("CROSSSLOT") or "hash to the same slot" in text:
            return ServerError(
                f"cluster: the keys of one call span several hash slots ({text}); every key "
                "of a queue (partition) must share its {hash tag}"
            )
        # A script's first write is refused when the server is out of memory, before anything
        # was written (later writes of a script that already wrote are allowed: atomicity).
        if isinstance(exc, rex.OutOfMemoryError) or text.startswith("OOM"):
            return ServerOutOfMemory(
                f"server is out of memory (maxmemory reached; nothing was written): {text}"
            )
        return translate_error(text)
    return ServerError(f"{type(exc).__name__}: {exc}")


def _is_tls_failure(text: str) -> bool:
    return any(word in text for word in ("SSL", "CERTIFICATE", "certificate", "TLS"))
