"""Rate limits (GCRA on the server's clock) and soft caps: flow control that never leaves
workers idle while someone else has work."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from fairque import Task
from fairque.cli.main import cli
from fairque.core.exceptions import InvalidRate
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.metrics import dump
from tests.support.popping import pop_n


def push(q, user, n, priority=3, tenant=None):
    q.push_batch([Task.create(user, priority, {"i": i}, tenant=tenant) for i in range(n)])


def drain_for(q, seconds):
    """Pop and complete whatever is ready for ``seconds``; the users served, in order."""
    served = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = q.pop()
        if t is None:
            time.sleep(0.002)
            continue
        served.append(t.user_id)
        q.complete(t)
    return served


def test_a_limited_user_gets_its_burst_then_one_task_per_interval(make_queue, make_config):
    # 1/h: after its burst of 3, nothing more for an hour, whatever else happens.
    q = make_queue(make_config(queue={"users": {"slow": {"rate": "1/h", "burst": 3}}}))
    push(q, "slow", 10)
    push(q, "other", 10)
    served = Counter(t.user_id for t in pop_n(q, 13))
    assert served == {"slow": 3, "other": 10}
    assert q.pop() is None  # slow is throttled: nobody polls it, nothing is dispatched
    with Inspector(q.config) as ins:
        row = ins.user("slow", 0, 1).row
    assert row.throttled_until is not None and row.rate == "1/h" and row.tokens == 0


def test_a_throttled_user_comes_back_by_itself_at_its_next_token(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"u": {"rate": "20/s", "burst": 1}}}))
    push(q, "u", 5)
    started = time.monotonic()
    served = []
    while len(served) < 5:
        t = q.pop()
        if t is not None:
            served.append(time.monotonic() - started)
            q.complete(t)
    # 5 tasks at 20/s with a burst of 1: the 5th no earlier than 4 intervals (200 ms) in.
    assert served[-1] >= 0.19, served


def test_everyone_else_keeps_flowing_while_a_user_is_throttled(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"limited": {"rate": "1/h", "burst": 1}}}))
    push(q, "limited", 50)
    push(q, "a", 50)
    push(q, "b", 50)
    counts = Counter(t.user_id for t in pop_n(q, 101))
    assert counts == {"limited": 1, "a": 50, "b": 50}


def test_default_rate_covers_users_not_listed(make_queue, make_config):
    q = make_queue(
        make_config(
            queue={"default_rate": "1/h", "default_burst": 2, "users": {"vip": {"rate": "100/s"}}}
        )
    )
    push(q, "anyone", 5)
    push(q, "vip", 5)
    counts = Counter(t.user_id for t in pop_n(q, 7))
    assert counts == {"anyone": 2, "vip": 5}


def test_a_tenant_limit_covers_all_its_users(make_queue, make_config):
    q = make_queue(make_config(queue={"tenants": {"acme": {"rate": "1/h", "burst": 4}}}))
    for i in range(5):
        push(q, f"acme-{i}", 3, tenant="acme")
    push(q, "solo", 10)
    counts = Counter(t.user_id for t in pop_n(q, 14))
    assert sum(n for u, n in counts.items() if u.startswith("acme-")) == 4
    assert counts["solo"] == 10
    assert q.pop() is None


def test_priorities_still_order_a_limited_users_tasks(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"u": {"rate": "1/h", "burst": 3}}}))
    push(q, "u", 2, priority=1)
    push(q, "u", 1, priority=6)
    push(q, "u", 2, priority=4)
    assert [t.priority for t in pop_n(q, 3)] == [6, 4, 4]


def test_pause_and_resume_of_a_throttled_user(make_queue, make_config):
    config = make_config(queue={"users": {"u": {"rate": "1/h", "burst": 1}}})
    q = make_queue(config)
    push(q, "u", 3)
    pop_n(q, 1)
    assert q.pop() is None  # throttled
    with Admin(config) as admin:
        admin.pause("u")
        admin.resume("u")  # resuming does not hand out tokens
    assert q.pop() is None
    with Admin(config) as admin:
        admin.set_rate("u", "100/s", seconds=60)  # an operator lifts it for a minute
    assert len(pop_n(q, 2)) == 2


def test_runtime_override_and_its_end(make_queue, make_config):
    config = make_config(queue={"users": {"u": {"rate": "1/h", "burst": 1}}})
    q = make_queue(config)
    push(q, "u", 10)
    pop_n(q, 1)
    assert q.pop() is None
    with Admin(config) as admin:
        admin.set_rate("u", None, seconds=0.3)  # no limit for 300 ms
        assert len(pop_n(q, 3)) == 3
        time.sleep(0.35)
        # The configured 1/h is back: a fresh bucket (burst 1), then nothing for an hour.
        assert len(pop_n(q, 1)) == 1
        assert q.pop() is None
        admin.set_rate("u", "1/h", burst=2)  # until unset
        admin.unset_rate("u")
        audit = admin.audit(10) if hasattr(admin, "audit") else None
    with Inspector(config) as ins:
        actions = [e.action for e in ins.audit(20)] if audit is None else audit
    assert {"set_rate", "unset_rate"} <= set(actions)


def test_bad_rates_are_refused_before_anything_is_written(make_queue, make_config, nothing_written):
    config = make_config()
    make_queue(config)
    with Admin(config) as admin, nothing_written():
        for bad in ("fast", "0/s", "5/d", "-1/s", ""):
            with pytest.raises(InvalidRate):
                admin.set_rate("u", bad)
        with pytest.raises(InvalidRate):
            admin.set_rate("u", "5/s", burst=0)


def test_a_boosted_limited_user_is_still_limited(make_queue, make_config):
    config = make_config(queue={"users": {"u": {"rate": "1/h", "burst": 2}}})
    q = make_queue(config)
    push(q, "u", 10)
    push(q, "v", 10)
    with Admin(config) as admin:
        admin.boost("u", 10, 60)
    counts = Counter(t.user_id for t in pop_n(q, 12))
    assert counts == {"u": 2, "v": 10}


def test_a_clock_step_back_does_not_hold_a_user_for_the_step(make_queue, make_config, raw):
    """The server clock going back an hour looks like a token far in the future; it is
    clamped to one interval, and a wake-up out of reach is ignored."""
    config = make_config(queue={"users": {"u": {"rate": "10/s", "burst": 1}}})
    q = make_queue(config)
    push(q, "u", 3)
    pop_n(q, 1)
    prefix = q.session.keys.prefix
    far = int(time.time() * 1000) + 3_600_000 * 5
    raw.hset(prefix + "rl", "u", far)  # as if the clock had stepped 5 h back
    raw.zadd(prefix + "throttled", {"u": far})
    # Served again about one interval (100 ms) later, not after 5 h.
    assert "u" in drain_for(q, 2.0)


def test_soft_cap_alone_uses_every_slot_then_holds_to_its_cap(make_queue, make_config):
    q = make_queue(
        make_config(queue={"max_inflight_mode": "soft", "users": {"big": {"max_inflight": 2}}})
    )
    push(q, "big", 20)
    held = pop_n(q, 6, complete=False)  # alone: over its cap of 2
    assert [t.user_id for t in held] == ["big"] * 6
    push(q, "other", 5)
    nxt = pop_n(q, 5, complete=False)
    assert [t.user_id for t in nxt] == ["other"] * 5  # held to its cap at once
    for t in held[:5]:
        q.complete(t)  # still 1 in flight (< 2): back in the round-robin
    assert q.pop().user_id == "big"


def test_hard_cap_leaves_slots_idle(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"big": {"max_inflight": 2}}}))
    push(q, "big", 20)
    assert len(pop_n(q, 2, complete=False)) == 2
    assert q.pop() is None


def test_per_user_soft_mode_and_pause(make_queue, make_config):
    config = make_config(queue={"users": {"s": {"max_inflight": 1, "max_inflight_mode": "soft"}}})
    q = make_queue(config)
    push(q, "s", 5)
    pop_n(q, 2, complete=False)
    with Admin(config) as admin:
        admin.pause("s")
        assert q.pop() is None  # paused: not even as a fallback
        admin.resume("s")
    assert q.pop().user_id == "s"


def test_rate_limits_and_soft_caps_with_partitions(make_queue, make_config):
    q = make_queue(
        make_config(
            queue={
                "partitions": 2,
                "max_inflight_mode": "soft",
                "users": {"a": {"rate": "1/h", "burst": 2}, "b": {"max_inflight": 1}},
            }
        )
    )
    push(q, "a", 10)
    push(q, "b", 10)
    got = Counter(t.user_id for t in pop_n(q, 6, complete=False))
    assert got == {"a": 2, "b": 4}  # a limited to its burst; b over its soft cap of 1


def test_inspector_users_state_and_explain_name_the_limiter(make_queue, make_config):
    config = make_config(queue={"users": {"u": {"rate": "1/h", "burst": 1}}})
    q = make_queue(config)
    push(q, "u", 1)
    pop_n(q, 1)
    waiting = Task.create("u", 3, "next")
    q.push(waiting)
    assert q.pop() is None
    with Inspector(config) as ins:
        ex = ins.explain(waiting.task_id)
        assert ex is not None and any("rate limit" in b for b in ex.blocked_by), ex
        page = ins.users(0, 10)
    row = next(r for r in page.rows if r.user_id == "u")
    assert row.throttled_until is not None


def test_cli_user_set_and_unset_and_the_throttled_state(make_queue, make_config, server_url):
    config = make_config()
    q = make_queue(config)
    push(q, "u", 5)
    name = config.queue.name
    base = ["--redis-url", server_url, "--queue", name]
    runner = CliRunner()
    result = runner.invoke(cli, [*base, "user", "set", "u", "--rate", "1/h", "--burst", "1"])
    assert result.exit_code == 0, result.output
    assert "at most 1/h (burst 1)" in result.output
    pop_n(q, 1)
    assert q.pop() is None
    users = json.loads(runner.invoke(cli, [*base, "--json", "users"]).output)
    row = next(r for r in users["rows"] if r["user_id"] == "u")
    assert row["rate"] == "1/h" and row["tokens"] == 0 and row["throttled_until"]
    table = runner.invoke(cli, [*base, "users"]).output
    assert "throttled" in table
    shown = runner.invoke(cli, [*base, "user", "show", "u"]).output
    assert "rate limit 1/h (burst 1): 0 token(s) left, throttled until" in shown
    with Inspector(config) as ins:
        text = dump(ins)
    assert f'fairque_throttled{{queue="{name}",user="u"}} 1.0' in text
    result = runner.invoke(cli, [*base, "user", "unset", "u"])
    assert result.exit_code == 0 and "override removed" in result.output
    assert len(pop_n(q, 4)) == 4  # no limit configured: all of them now
    bad = runner.invoke(cli, [*base, "user", "set", "u", "--rate", "lots"])
    assert bad.exit_code == 1 and "is not a rate" in bad.output
    refused = runner.invoke(cli, [*base, "--read-only", "tenant", "set", "t", "--rate", "5/s"])
    assert refused.exit_code == 3


def test_an_empty_bucket_shows_before_any_pop_throttles_the_user(make_queue, make_config):
    """The Inspector does not wait for a pop: a user whose bucket is empty is shown as
    throttled until its next token, and explain names the limit."""
    config = make_config(queue={"users": {"u": {"rate": "1/h", "burst": 1}}})
    q = make_queue(config)
    push(q, "u", 2)
    first = pop_n(q, 1)[0]
    with Inspector(config) as ins:
        row = ins.user("u", 0, 5).row
        nxt = ins.user("u", 0, 5).pending[3][0].task_id
        ex = ins.explain(nxt)
    assert row.tokens == 0 and row.throttled_until is not None
    assert ex is not None and any("rate limit" in b for b in ex.blocked_by), ex
    assert ex.estimated_start_seconds is None and first.user_id == "u"
