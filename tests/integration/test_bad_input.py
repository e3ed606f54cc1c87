"""Bad input (RELIABILITY.md): a typed FairQueueError naming the problem, nothing written."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import ResponseError

from fairque import FairQueueError, Priority, Task, TaskIdConflict
from fairque.core import exceptions as E
from fairque.scripts import load_script


class Opaque:
    pass


CREATE_CASES = [
    # (kwargs for Task.create, exception type, words the message must contain)
    ({"user_id": None}, E.InvalidUserId, "required"),
    ({"user_id": ""}, E.InvalidUserId, "empty"),
    ({"user_id": "x" * 129}, E.InvalidUserId, "at most 128"),
    ({"user_id": "a{b}"}, E.InvalidUserId, "forbidden"),
    ({"user_id": "a b"}, E.InvalidUserId, "forbidden"),
    ({"user_id": "a\nb"}, E.InvalidUserId, "forbidden"),
    ({"user_id": "a\x00b"}, E.InvalidUserId, "forbidden"),
    ({"user_id": 7}, E.InvalidUserId, "string"),
    ({"task_id": ""}, E.InvalidTaskId, "malformed"),
    ({"task_id": "has space"}, E.InvalidTaskId, "malformed"),
    ({"task_id": "{tag}"}, E.InvalidTaskId, "malformed"),
    ({"task_id": "x" * 200}, E.InvalidTaskId, "malformed"),
    ({"priority": True}, E.InvalidPriority, "bool"),
    ({"priority": "6"}, E.InvalidPriority, "str"),
    ({"priority": 3.0}, E.InvalidPriority, "float"),
    ({"priority": 0}, E.InvalidPriority, "1-6"),
    ({"priority": 7}, E.InvalidPriority, "1-6"),
    ({"priority": -1}, E.InvalidPriority, "1-6"),
    ({"priority": 10**30}, E.InvalidPriority, "1-6"),
    ({"payload": {1, 2}}, E.InvalidPayload, "not JSON-serializable"),
    ({"payload": b"bytes"}, E.InvalidPayload, "not JSON-serializable"),
    ({"payload": datetime.now(UTC)}, E.InvalidPayload, "not JSON-serializable"),
    ({"payload": Opaque()}, E.InvalidPayload, "not JSON-serializable"),
    ({"payload": math.nan}, E.InvalidPayload, "not valid JSON"),
    ({"payload": {"x": math.inf}}, E.InvalidPayload, "not valid JSON"),
    (
        {"payload": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
        E.InvalidPayload,
        "deeper than 32",
    ),
    ({"delay": -1}, E.InvalidSchedule, "negative"),
    ({"delay": math.nan}, E.InvalidSchedule, "finite"),
    ({"delay": 10**12}, E.InvalidSchedule, "more than a year"),
    ({"execute_after": datetime.now(UTC) + timedelta(days=4000)}, E.InvalidSchedule, "year"),
    ({"max_attempts": 0}, E.InvalidSchedule, ">= 1"),
    ({"max_attempts": -3}, E.InvalidSchedule, ">= 1"),
    ({"handler": "bad name!"}, E.InvalidTaskId, "handler"),
]


@pytest.mark.parametrize(("kwargs", "exc", "words"), CREATE_CASES)
def test_task_create_rejects(kwargs, exc, words):
    args = {"user_id": "u1", "payload": {"ok": 1}, **kwargs}
    with pytest.raises(exc, match=words) as info:
        Task.create(**args)
    assert isinstance(info.value, FairQueueError)


def test_deep_payload_message():
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(E.InvalidPayload, match="deeper than 32"):
        Task.create("u1", payload=deep)


def test_nested_31_levels_is_fine():
    deep: list = [1]
    for _ in range(30):
        deep = [deep]
    assert Task.create("u1", payload=deep).payload == deep


def test_oversized_payload_is_refused_and_nothing_is_written(make_queue, make_config, raw):
    q = make_queue(make_config(queue={"max_payload_bytes": 1024}))
    before = raw.dbsize()
    with pytest.raises(E.InvalidPayload, match="limit is 1024"):
        q.push(Task.create("u1", payload="x" * 2000))
    # One bad task in a batch: the whole batch is refused before anything is sent.
    with pytest.raises(E.InvalidPayload):
        q.push_batch([Task.create("u1", payload=1), Task.create("u1", payload="é" * 600)])
    assert raw.dbsize() == before


def test_lua_enforces_the_payload_limit_for_other_producers(make_queue, make_config, raw):
    q = make_queue(make_config(queue={"max_payload_bytes": 1024}))
    # A producer in another language calls the script itself, claiming a larger limit.
    script = load_script("push")
    before = raw.dbsize()
    args = [q.session.prefix, 1000, 10**6, 1, "t1", "u1", 3, '"' + "x" * 5000 + '"', "", "", "", ""]
    with pytest.raises(ResponseError, match="PAYLOAD_TOO_LARGE"):
        raw.eval(script.source, 1, q.session.keys.meta, *args)
    assert raw.dbsize() == before
    args[7] = '"small"'
    raw.eval(script.source, 1, q.session.keys.meta, *args)
    assert q.pop().payload == "small"


def test_model_construct_bypass_is_still_checked_at_push(make_queue, raw):
    q = make_queue()
    before = raw.dbsize()
    for bad in (
        Task.model_construct(task_id="t1", user_id="a b", priority=3, payload=1),
        Task.model_construct(task_id="t 1", user_id="u", priority=3, payload=1),
        Task.model_construct(task_id="t1", user_id="u", priority=9, payload=1),
        Task.model_construct(task_id="t1", user_id="u", priority=True, payload=1),
    ):
        with pytest.raises(FairQueueError):
            q.push(bad)
    with pytest.raises(TypeError):
        q.push({"user_id": "u"})
    assert raw.dbsize() == before


def test_idempotent_push_and_conflict(make_queue, raw):
    q = make_queue()
    first = q.push(Task.create("u1", Priority.HIGH, {"a": 1}, task_id="job-1"))
    again = q.push(Task.create("u1", Priority.HIGH, {"a": 1}, task_id="job-1"))
    assert (first.created, again.created) == (True, False)
    assert q.stats().ready == 1
    before = raw.dbsize()
    snapshot = raw.hgetall(q.session.keys.task("job-1"))
    with pytest.raises(TaskIdConflict, match="job-1"):
        q.push(Task.create("u1", Priority.HIGH, {"a": 2}, task_id="job-1"))
    with pytest.raises(TaskIdConflict):
        q.push(Task.create("u2", Priority.HIGH, {"a": 1}, task_id="job-1"))
    # A conflicting batch writes none of its tasks, not even the good ones before the bad.
    with pytest.raises(TaskIdConflict):
        q.push_batch(
            [
                Task.create("u1", payload=1, task_id="fresh-1"),
                Task.create("u1", payload={"a": 3}, task_id="job-1"),
            ]
        )
    with pytest.raises(TaskIdConflict):
        q.push_batch(
            [
                Task.create("u1", payload=1, task_id="dup"),
                Task.create("u1", payload=2, task_id="dup"),
            ]
        )
    assert raw.dbsize() == before
    assert raw.hgetall(q.session.keys.task("job-1")) == snapshot
    assert q.stats().ready == 1


def test_ack_of_an_unleased_task_is_refused(make_queue):
    q = make_queue()
    t = Task.create("u1", payload=1)
    q.push(t)
    with pytest.raises(FairQueueError, match="no lease"):
        q.complete(t)
