"""How the scripts reach the server: fairque's function library by default (loaded on the
first call, loaded again when the server lost it), EVALSHA when configured or when the
account may not use functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from redis.cluster import RedisCluster

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.scripts import load_script
from fairque.scripts.library import library
from tests.conftest import CLUSTER


def on_every_node(raw: Any, *command: str) -> None:
    if CLUSTER:
        raw.execute_command(*command, target_nodes=RedisCluster.ALL_NODES)
    else:
        raw.execute_command(*command)


def libraries(raw: Any) -> set[str]:
    found = raw.function_list(library=library().name)
    if CLUSTER:  # one reply per node: the library is on every primary
        return {name for reply in found.values() for name in _names(reply)}
    return set(_names(found))


def _names(reply: list[Any]) -> list[str]:
    return [dict(zip(lib[::2], lib[1::2], strict=True))["library_name"] for lib in reply]


def roundtrip(q: TaskQueue, ids: list[str]) -> list[str]:
    q.push_batch([Task.create(f"u{i}", 3, i, task_id=tid) for i, tid in enumerate(ids)])
    got = q.pop_many(len(ids))
    assert all(r.value == "ok" for r in q.complete_many([(t, None) for t in got]))
    return sorted(t.task_id for t in got)


def test_the_library_is_loaded_by_the_first_call_and_again_after_a_flush(make_config, raw):
    raw.function_flush()
    raw.script_flush()  # what earlier tests in EVALSHA mode loaded
    with TaskQueue(make_config()) as q:
        assert roundtrip(q, ["a", "b"]) == ["a", "b"]
        assert libraries(raw) == {library().name}
        # no script went through EVALSHA
        assert raw.script_exists(load_script("push").sha) == [False]
        raw.function_flush()  # a server restarted without persistence, or flushed
        assert q.pop() is None
        assert roundtrip(q, ["c", "d"]) == ["c", "d"]
        assert libraries(raw) == {library().name}


@pytest.mark.parametrize("count", [1, 3])
def test_a_pipeline_whose_calls_found_no_library_runs_them_after_loading_it(
    make_config, raw, count
):
    """A partitioned queue sends one call per partition in one pipeline: each call that
    found nothing loaded did not run, and is sent again."""
    with TaskQueue(make_config(queue={"partitions": count})) as q:
        q.push(Task.create("u", 3, 0, task_id="first"))
        raw.function_flush()
        pushed = q.push_batch([Task.create(f"u{i}", 3, i, task_id=f"t{i}") for i in range(8)])
        assert all(r.created for r in pushed)
        got = []
        while batch := q.pop_many(20):
            got += batch
        assert sorted(t.task_id for t in got) == ["first", *(f"t{i}" for i in range(8))]


def test_eval_mode_uses_evalsha_and_loads_no_library(make_config, raw):
    raw.function_flush()
    config = make_config(redis={"scripts": "eval"})
    with TaskQueue(config) as q:
        assert roundtrip(q, ["a", "b", "c"]) == ["a", "b", "c"]
        assert libraries(raw) == set()
        raw.script_flush()  # NOSCRIPT: loaded again
        assert roundtrip(q, ["d"]) == ["d"]
        assert libraries(raw) == set()


@pytest.fixture
def limited_url(server_url: str, raw: Any) -> Callable[[str], str]:
    """The URL of an account with these extra ACL rules (removed after the test)."""
    made: list[str] = []

    def account(rules: str) -> str:
        name = f"limited{len(made)}"
        on_every_node(raw, "ACL", "SETUSER", name, "reset", "on", ">pw", "~*", "&*", "+@all",
                      *rules.split())  # fmt: skip
        made.append(name)
        return server_url.replace("redis://", f"redis://{name}:pw@")

    yield account
    for name in made:
        on_every_node(raw, "ACL", "DELUSER", name)


@pytest.mark.parametrize("rules", ["-function", "-fcall -function"])
def test_an_account_refused_functions_falls_back_to_evalsha_with_one_warning(
    make_config, raw, limited_url, caplog, rules
):
    raw.function_flush()
    config = make_config()
    config = FairQueueConfig(
        redis={**config.redis.model_dump(), "url": limited_url(rules)},
        queue=config.queue.model_dump(),
    )
    with caplog.at_level(logging.WARNING, logger="fairque.queue"), TaskQueue(config) as q:
        assert roundtrip(q, ["a", "b"]) == ["a", "b"]
        assert roundtrip(q, ["c"]) == ["c"]
    refusals = [r for r in caplog.records if "refused Lua functions" in r.getMessage()]
    assert len(refusals) == 1
    assert libraries(raw) == set()


def test_a_script_error_is_not_mistaken_for_a_missing_library(make_config):
    """The server's refusal of bad input reaches the caller as a typed error, once."""
    from fairque.core.exceptions import TaskIdConflict

    with TaskQueue(make_config()) as q:
        q.push(Task.create("u", 3, {"a": 1}, task_id="same"))
        with pytest.raises(TaskIdConflict):
            q.push(Task.create("u", 3, {"a": 2}, task_id="same"))
