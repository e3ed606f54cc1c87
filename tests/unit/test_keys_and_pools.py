"""Key schema, Lua key functions, registrations and settings: pure functions, no server."""

from __future__ import annotations

import pytest

from fairque import FairQueueConfig
from fairque.core.exceptions import InvalidUserId
from fairque.core.keys import TEMPLATES, QueueKeys, lua_key_functions
from fairque.queue.routing import SettingsDoc, registration_of
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


def config(workers, users=None, **queue):
    return FairQueueConfig(workers=workers, queue={"users": users or {}, **queue})


def test_a_registration_is_the_workers_own_entry_sorted_and_fingerprinted():
    cfg = config([{"id": "w1", "assigned_users": ["b", "a", "b"], "steal_targets": ["c"]}])
    reg = registration_of(cfg, "w1")
    assert reg is not None
    assert (reg.assigned_csv, reg.steal_spec) == ("a,b", "c")
    same = registration_of(
        config([{"id": "w1", "assigned_users": "a,b", "steal_targets": "c"}]), "w1"
    )
    assert same is not None and same.fingerprint == reg.fingerprint
    star = registration_of(config([{"id": "w1", "steal_targets": "*"}]), "w1")
    assert star is not None and star.steal_spec == "*" and star.fingerprint != reg.fingerprint
    assert registration_of(cfg, None) is None


def test_settings_fingerprint_is_stable_and_sensitive():
    a = SettingsDoc.of(config([], {"a": {"weight": 2}}))
    b = SettingsDoc.of(config([{"id": "other", "assigned_users": ["x"]}], {"a": {"weight": 2.0}}))
    c = SettingsDoc.of(config([], {"a": {"weight": 3}}))
    assert a.fingerprint == b.fingerprint  # workers' routing is not a setting
    assert a.fingerprint != c.fingerprint
    assert SettingsDoc.from_json(a.to_json()) == a


def test_a_config_with_no_settings_of_its_own_has_no_opinion():
    assert not SettingsDoc.of(FairQueueConfig()).has_opinion
    assert not SettingsDoc.of(config([{"id": "w", "assigned_users": ["a"]}])).has_opinion
    assert SettingsDoc.of(config([], default_weight=2)).has_opinion
    assert SettingsDoc.of(config([], dlq_max=5)).has_opinion


def test_settings_diff_names_each_user_and_field():
    mine = SettingsDoc.of(config([], {"acme": {"weight": 3}, "new": {"max_inflight": 2}}))
    theirs = SettingsDoc.of(config([], {"acme": {"weight": 5}, "old": {}}, default_weight=2))
    assert mine.diff(theirs) == [
        "default_weight: 1 here, 2 in force",
        "acme.weight: 3 here, 5 in force",
        "new: configured here, not in force",
        "old: not configured here, configured in force",
    ]
    assert mine.diff(mine) == []


def test_mask_url():
    assert mask_url("redis://u:secret@h:6379/0") == "redis://u:***@h:6379/0"
    assert mask_url("rediss://:pw@h/1") == "rediss://:***@h/1"
    assert mask_url("redis://h:6379") == "redis://h:6379"
