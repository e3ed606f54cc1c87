"""push.lua writes a single new plain task on a short path and everything else on its batch
path: both must leave the same state (every key of the queue, clock values aside)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fairque import Task, TaskQueue
from fairque.queue.ops import single
from fairque.queue.records import push_args

CLOCK = re.compile(r"\d{13,}")  # ms and µs timestamps, enqueue sequence numbers
MINUTE_KEY = re.compile(r":\d{7,}$")  # per-minute buckets: tp:<minute>, psh:<minute>


def snapshot(raw: Any, prefix: str) -> dict[str, Any]:
    """Every key under ``prefix`` (a queue's): its type and value, with the prefix and the
    clock masked. Per-minute buckets of different minutes are summed (a run may straddle
    one)."""
    state: dict[str, Any] = {}
    for key in raw.scan_iter(match=prefix + "*", count=1000):
        name = MINUTE_KEY.sub(":<minute>", key.removeprefix(prefix))
        kind = raw.type(key)
        value: Any
        if kind == "hash":
            value = {f: CLOCK.sub("<t>", v) for f, v in raw.hgetall(key).items()}
            if name.endswith(":<minute>") and name in state:
                merged = state[name][1]
                for f, v in value.items():
                    merged[f] = str(int(merged.get(f, 0)) + int(v))
                continue
        elif kind == "list":
            value = [CLOCK.sub("<t>", v) for v in raw.lrange(key, 0, -1)]
        elif kind == "zset":
            value = [(m, s) for m, s in raw.zrange(key, 0, -1, withscores=True)]
        elif kind == "set":
            value = sorted(raw.smembers(key))
        else:
            value = CLOCK.sub("<t>", str(raw.get(key)))
        assert name not in state, f"two keys read as {name}"
        state[name] = (kind, value)
    return state


def tasks() -> list[Task]:
    """New users (each enters the round-robin), a user with work already, two priorities."""
    return [
        Task.create("alice", 3, {"n": 1}, task_id="a1"),
        Task.create("alice", 3, {"n": 2}, task_id="a2"),
        Task.create("alice", 1, {"n": 3}, task_id="a3"),
        Task.create("bob", 5, {"n": 4}, task_id="b1"),
        Task.create("carol", 6, "text", task_id="c1"),
    ]


def test_a_single_push_leaves_what_the_batch_path_leaves(
    make_config: Callable[..., Any], raw: Any
) -> None:
    short, batch = make_config(), make_config(queue={"name": "paths-" + make_config().queue.name})
    with TaskQueue(short) as q:
        answers = [q.push(t) for t in tasks()]  # one new plain task per call: the short path
        short_keys = q.session.keys
    assert [(a.created, a.state.value) for a in answers] == [(True, "ready")] * 5
    with TaskQueue(batch) as q:
        s = q.session
        batch_keys = s.keys
        for t in tasks():
            # One task per call as well, with one optional section sent (handlers, '' =
            # none): the batch path, which reads it as the same plain task.
            reply = q.run(single(s.call("push", *push_args(s, [t], ""), b"")))
            assert reply == "ready"
    written = snapshot(raw, short_keys.prefix)
    assert written == snapshot(raw, batch_keys.prefix)
    alice_p3 = short_keys.prio("alice", 3).removeprefix(short_keys.prefix)
    assert written[alice_p3] == ("list", ["<t>|a1", "<t>|a2"])


def test_a_single_push_of_an_existing_task_answers_as_before(make_config: Callable[..., Any]):
    with TaskQueue(make_config()) as q:
        assert q.push(Task.create("alice", 3, {"n": 1}, task_id="x")).created
        again = q.push(Task.create("alice", 3, {"n": 1}, task_id="x"))
        assert (again.created, again.state.value) == (False, "ready")
        leased = q.pop()
        assert leased is not None and leased.task_id == "x"
        assert q.push(Task.create("alice", 3, {"n": 1}, task_id="x")).state.value == "leased"
        assert q.stats().counters["pushed"] == 1
