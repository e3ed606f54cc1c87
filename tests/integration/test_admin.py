"""Admin operations: effect, dry run touching nothing, read-only refusing, audit entries."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from fairque import Task, TaskQueue
from fairque.core.exceptions import ValidationError
from fairque.monitoring import Admin, Inspector, ReadOnlyError


@pytest.fixture
def q(make_config):
    with TaskQueue(make_config(queue={"max_attempts": 1})) as queue:
        yield queue


@pytest.fixture
def admin(q, monitor):
    return monitor(Admin, q.config, actor="ops@test")


def bury(q, user, n, error="boom", prefix=None):
    q.push_batch([Task.create(user, 3, i, task_id=f"{prefix or user}-{i}") for i in range(n)])
    for _ in range(n):
        q.fail(q.pop(), error)


def snapshot(raw, q):
    keys = sorted(raw.scan_iter(match=f"fq:{{{q.session.queue.name}}}:*", count=1000))
    return {k: raw.dump(k) for k in keys if ":tp:" not in k}


def audit_actions(q):
    return [e.action for e in Inspector(q.config, queue=q).audit()]


def test_requeue_by_ids_user_error_and_all(q, admin):
    bury(q, "a", 3, "disk full")
    bury(q, "b", 2, "timeout")
    assert admin.requeue(["a-0"]).touched == 1
    assert admin.requeue(user="b").touched == 2
    assert admin.requeue(error="DISK").touched == 2  # case-insensitive substring
    assert q.stats().dead == 0 and q.stats().ready == 5
    for _ in range(5):
        q.fail(q.pop(), "again")
    r = admin.requeue(all=True)
    assert (r.matched, r.touched, r.action) == (5, 5, "requeue")
    assert q.get_task("a-1").attempts == 0
    assert audit_actions(q)[:4] == ["requeue"] * 4


def test_requeue_is_paced(q, admin):
    bury(q, "a", 6)
    start = time.monotonic()
    assert admin.requeue(all=True, rate=10).touched == 6  # 6 tasks at 10/s: about 0.6 s
    assert time.monotonic() - start >= 0.5


def test_dry_runs_touch_nothing(q, admin, raw, tmp_path):
    bury(q, "a", 3)
    q.push_batch([Task.create("c", 3, i) for i in range(4)])
    before = snapshot(raw, q)
    assert admin.requeue(all=True, dry_run=True).matched == 3
    assert admin.purge(user="a", dry_run=True).matched == 3
    r = admin.drain("c", dry_run=True, export=tmp_path / "x.jsonl")
    assert (r.matched, r.touched, r.dry_run) == (4, 0, True)
    assert snapshot(raw, q) == before
    assert not (tmp_path / "x.jsonl").exists()
    assert audit_actions(q) == []


def test_read_only_refuses_every_mutation(q, raw):
    bury(q, "a", 1)
    ro = Admin(q.config, queue=q, read_only=True)
    before = snapshot(raw, q)
    for call in (
        lambda: ro.requeue(all=True),
        lambda: ro.purge(all=True),
        lambda: ro.drain("a"),
        lambda: ro.pause("a"),
        lambda: ro.resume("a"),
        lambda: ro.boost("a", 3, 60),
        lambda: ro.unboost("a"),
    ):
        with pytest.raises(ReadOnlyError, match="read-only"):
            call()
    assert ro.requeue(all=True, dry_run=True).matched == 1  # looking is allowed
    assert snapshot(raw, q) == before


def test_bad_selections_are_refused(admin):
    with pytest.raises(ValidationError, match="exactly one"):
        admin.requeue()
    with pytest.raises(ValidationError, match="exactly one"):
        admin.requeue(["x"], all=True)
    with pytest.raises(ValidationError):
        admin.boost("a", 0, 10)


def test_purge_by_ids_user_age_and_all(q, admin, raw):
    bury(q, "a", 2)
    bury(q, "b", 2)
    assert admin.purge(["a-0"]).touched == 1
    assert raw.exists(q.session.keys.task("a-0")) == 0
    assert admin.purge(user="b").touched == 2
    assert admin.purge(older_than=3600).touched == 0  # nothing that old
    time.sleep(1.1)
    assert admin.purge(older_than=1).touched == 1
    bury(q, "c", 2)
    assert admin.purge(all=True).touched == 2 and q.stats().dead == 0


def test_drain_exports_then_cancels(q, admin, tmp_path):
    q.push_batch(
        [
            Task.create("noisy", p, {"i": i}, task_id=f"n{p}-{i}")
            for p in (1, 3, 6)
            for i in range(3)
        ]
    )
    q.push_batch([Task.create("calm", 3, i) for i in range(2)])
    path = tmp_path / "noisy.jsonl"
    r = admin.drain("noisy", priority=3, export=path)
    assert (r.matched, r.touched) == (3, 3)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["task_id"] for x in lines] == ["n3-0", "n3-1", "n3-2"]
    assert lines[0]["payload"] == {"i": 0} and lines[0]["priority"] == 3
    assert q.get_task("n3-0").state == "canceled"
    assert admin.drain("noisy", export=path).touched == 6
    assert len(path.read_text().splitlines()) == 9
    stats = q.stats()
    assert stats.ready == 2 and {u.user_id for u in stats.users} == {"calm"}
    assert {q.pop().user_id for _ in range(2)} == {"calm"}


def test_pause_and_resume(q, admin):
    q.push_batch([Task.create(u, 3, i) for i in range(3) for u in ("a", "b")])
    assert admin.pause("a").touched == 1
    assert admin.pause("a").touched == 0  # already paused
    q.push(Task.create("a", 3, "accepted while paused"))
    assert [q.pop().user_id for _ in range(3)] == ["b", "b", "b"]
    assert q.pop() is None
    assert admin.resume("a").touched == 1
    assert Counter(q.pop().user_id for _ in range(4)) == {"a": 4}


def test_boost_changes_the_share_and_reverts_by_itself(q, admin):
    q.push_batch([Task.create(u, 3, i) for i in range(200) for u in ("a", "b")])
    admin.boost("a", 3, seconds=1.0)
    boosted = Counter(q.pop().user_id for _ in range(40))
    assert boosted == {"a": 30, "b": 10}
    time.sleep(1.1)
    after = Counter(q.pop().user_id for _ in range(40))
    assert after == {"a": 20, "b": 20}
    assert "boost" in audit_actions(q)
