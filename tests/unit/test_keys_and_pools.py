"""Key schema, Lua key functions and pools: pure functions, no server."""

from __future__ import annotations

import pytest

from fairque import FairQueueConfig
from fairque.core.exceptions import InvalidUserId
from fairque.core.keys import TEMPLATES, QueueKeys, lua_key_functions
from fairque.queue.pools import DEFAULT_POOL, config_mirror, user_pools, worker_scope
from fairque.util import mask_url


def test_every_key_shares_the_queue_hash_tag():
    k = QueueKeys("jobs")
    built = [k.task("t1"), k.prio("u:1", 6), k.prio("u:1", 1), k.ready("_"), k.meta]
    built += [k.key(name) for name, t in TEMPLATES.items() if "{" not in t]
    assert all(key.startswith("fq:{jobs}:") for key in built)
    assert QueueKeys("jobs", partition=2).prefix == "fq:{jobs#2}:"


def test_ids_are_checked_before_a_key_is_built():
    with pytest.raises(InvalidUserId):
        QueueKeys("q").prio("}evil{", 3)


def test_lua_key_functions_cover_the_templates():
    lua = lua_key_functions()
    for name in TEMPLATES:
        assert f"K.{name} = function(" in lua
    assert "K.task = function(task_id) return PREFIX .. 'task:' .. task_id end" in lua


def config(workers, users=None):
    return FairQueueConfig(workers=workers, queue={"users": users or {}})


def test_pools_group_users_by_the_workers_that_serve_them():
    cfg = config(
        [
            {"id": "w1", "assigned_users": ["a", "b"], "steal_targets": ["c"]},
            {"id": "w2", "assigned_users": ["b", "c"]},
            {"id": "w3", "assigned_users": ["a", "b"], "steal_targets": ["c"]},
        ],
        users={"d": {"weight": 2}},
    )
    pools = user_pools(cfg)
    assert pools["a"] != pools["b"]  # b is also served by w2
    assert pools["d"] == DEFAULT_POOL  # configured, but assigned to nobody
    s1 = worker_scope(cfg, "w1")
    assert set(s1.home.split(",")) == {pools["a"], pools["b"]}
    assert s1.steal == pools["c"]
    assert worker_scope(cfg, "w2").steal == ""
    assert worker_scope(cfg, None).home == "*"


def test_star_steals_every_pool_but_home():
    cfg = config(
        [
            {"id": "w1", "assigned_users": ["a"], "steal_targets": "*"},
            {"id": "w2", "assigned_users": ["b"]},
        ]
    )
    pools = user_pools(cfg)
    scope = worker_scope(cfg, "w1")
    assert scope.home == pools["a"]
    assert set(scope.steal.split(",")) == {pools["b"], DEFAULT_POOL}


def test_mirror_fingerprint_is_stable_and_sensitive():
    a = config([{"id": "w1", "assigned_users": ["a"]}], {"a": {"weight": 2}})
    b = config([{"id": "w1", "assigned_users": ["a"]}], {"a": {"weight": 2}})
    c = config([{"id": "w1", "assigned_users": ["a"]}], {"a": {"weight": 3}})
    assert config_mirror(a).fingerprint == config_mirror(b).fingerprint
    assert config_mirror(a).fingerprint != config_mirror(c).fingerprint
    assert config_mirror(a).entries["a"].endswith("|2.0|0")
    assert config_mirror(FairQueueConfig()).is_trivial


def test_mask_url():
    assert mask_url("redis://u:secret@h:6379/0") == "redis://u:***@h:6379/0"
    assert mask_url("rediss://:pw@h/1") == "rediss://:***@h/1"
    assert mask_url("redis://h:6379") == "redis://h:6379"
