"""Server checks at start: version, eviction policy, what durability needs (no server)."""

from __future__ import annotations

import pytest

from fairque.core.config import RedisConfig
from fairque.core.exceptions import UnsupportedServer
from fairque.queue.server_checks import check_server

GOOD = {"redis_version": "7.2.4", "maxmemory_policy": "noeviction", "aof_enabled": 0}


def test_a_good_server_passes_quietly():
    assert check_server(GOOD, RedisConfig()) == []
    assert check_server({**GOOD, "redis_version": "7.0.15"}, RedisConfig()) == []


def test_eviction_is_refused_unless_accepted():
    bad = {**GOOD, "maxmemory_policy": "allkeys-lru"}
    with pytest.raises(UnsupportedServer, match=r"'allkeys-lru'.*noeviction"):
        check_server(bad, RedisConfig())
    (warning,) = check_server(bad, RedisConfig(require_noeviction=False))
    assert "allkeys-lru" in warning


def test_aof_durability_needs_aof_and_waitaof():
    with pytest.raises(UnsupportedServer, match="appendonly yes"):
        check_server(GOOD, RedisConfig(durability="aof"))
    with pytest.raises(UnsupportedServer, match=r"7\.2"):
        check_server(
            {**GOOD, "redis_version": "7.0.15", "aof_enabled": 1}, RedisConfig(durability="aof")
        )
    assert check_server({**GOOD, "aof_enabled": 1}, RedisConfig(durability="aof")) == []
