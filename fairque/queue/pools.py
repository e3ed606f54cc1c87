"""Pools: users grouped by which workers serve them, derived from the configuration.

A user's pool is named after the exact set of workers that list it in ``assigned_users`` and
the set of workers that list it by name in ``steal_targets``. Each pool has one ready set
(scored by pass), so a worker finds its next user by looking at a handful of pools instead of
scanning its users. Users the configuration does not mention are in the default pool ``_``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fairque.core.config import FairQueueConfig, QueueConfig

DEFAULT_POOL = "_"
ALL_POOLS = "*"


def _pool_name(assigned_by: frozenset[str], stolen_by: frozenset[str]) -> str:
    if not assigned_by and not stolen_by:
        return DEFAULT_POOL
    text = ",".join(sorted(assigned_by)) + "|" + ",".join(sorted(stolen_by))
    return "p" + hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def user_pools(config: FairQueueConfig) -> dict[str, str]:
    """Pool of every user the configuration names (weights, caps, workers' lists)."""
    assigned: dict[str, set[str]] = {}
    stolen: dict[str, set[str]] = {}
    for worker in config.workers:
        for user in worker.assigned_users:
            assigned.setdefault(user, set()).add(worker.id)
        if worker.steal_targets != ALL_POOLS:
            for user in worker.steal_targets:
                stolen.setdefault(user, set()).add(worker.id)
    users = set(assigned) | set(stolen) | set(config.queue.users)
    return {
        user: _pool_name(frozenset(assigned.get(user, ())), frozenset(stolen.get(user, ())))
        for user in sorted(users)
    }


@dataclass(frozen=True, slots=True)
class Scope:
    """Which ready sets a popper reads: its home pools first, then the ones it may steal from.

    Each is a comma-separated list of pool names, ``"*"`` (every pool) or ``""`` (none).
    """

    home: str
    steal: str


SERVE_ALL = Scope(home=ALL_POOLS, steal="")


def worker_scope(config: FairQueueConfig, worker_id: str | None) -> Scope:
    """The scope of ``worker_id``; without a worker identity a popper serves every pool."""
    if worker_id is None:
        return SERVE_ALL
    worker = config.worker(worker_id)
    pools = user_pools(config)
    home = sorted({pools[u] for u in worker.assigned_users})
    if worker.steal_targets == ALL_POOLS:
        every = set(pools.values()) | {DEFAULT_POOL}
        steal = sorted(every - set(home))
    else:
        steal = sorted({pools[u] for u in worker.steal_targets} - set(home))
    return Scope(home=",".join(home), steal=",".join(steal))


@dataclass(frozen=True, slots=True)
class ConfigMirror:
    """What :func:`sync_config` stores in the server: per-user pool, weight and cap."""

    fingerprint: str
    default_weight: float
    limits: str  # "max_payload_bytes|dlq_max": queue-wide limits every script enforces
    entries: dict[str, str]
    pools: tuple[str, ...]

    @property
    def is_trivial(self) -> bool:
        """True when the config names no users or workers and keeps the default weight."""
        return not self.entries and self.default_weight == 1.0 and self.limits == _DEFAULT_LIMITS


def _limits(queue: QueueConfig) -> str:
    return f"{queue.max_payload_bytes}|{queue.dlq_max}"


_DEFAULT_LIMITS = _limits(QueueConfig())


def config_mirror(config: FairQueueConfig) -> ConfigMirror:
    """Build the mirror of ``config`` (deterministic: equal configs give equal fingerprints)."""
    entries: dict[str, str] = {}
    for user, pool in user_pools(config).items():
        settings = config.user_settings(user)
        entries[user] = f"{pool}|{settings.weight!r}|{settings.max_inflight or 0}"
    pools = tuple(sorted({p.split("|", 1)[0] for p in entries.values()} - {DEFAULT_POOL}))
    digest = hashlib.blake2b(digest_size=12)
    limits = _limits(config.queue)
    digest.update(f"{config.queue.default_weight!r}|{limits}".encode())
    for user, raw in entries.items():
        digest.update(f"\n{user}={raw}".encode())
    return ConfigMirror(
        digest.hexdigest(),
        config.queue.default_weight,
        limits,
        entries,
        pools,
    )
