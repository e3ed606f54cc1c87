"""The whole bad-input list of docs/reliability.md, through the library and the CLI.

Every case: a typed error (a FairQueueError subclass) whose message names the problem, or the
documented exit code and one line from the CLI; and nothing written to the server. The
sections follow the list: queue name, user_id, task_id, priority, payload, delays and limits,
cron, unregistered handler, config file, connection, CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from redis.exceptions import ResponseError

from fairque import FairQueueConfig, FairQueueError, Priority, Task, TaskIdConflict, TaskQueue
from fairque.cli import output
from fairque.cli.main import cli
from fairque.core import exceptions as E
from fairque.core.config import RedisConfig
from fairque.core.keys import QueueKeys
from fairque.monitoring import Admin
from fairque.queue.server_checks import check_server
from fairque.scheduler import ScheduledTask, TaskScheduler
from fairque.scripts import load_script
from fairque.server import EmbeddedServer, free_port

# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def q(make_config) -> Iterator[TaskQueue]:
    """A queue with something in every state, so that 'nothing changed' means something."""
    with TaskQueue(make_config(queue={"max_attempts": 1})) as queue:
        queue.push_batch([Task.create("u1", 3, {"n": i}, task_id=f"ready{i}") for i in range(3)])
        queue.push(Task.create("u1", 3, {"a": 1}, task_id="job-1"))
        queue.push(Task.create("u2", 3, 0, task_id="doomed"))
        while (t := queue.pop()) and t.task_id != "doomed":
            queue.release([t])
        assert t is not None
        queue.fail(t, ValueError("boom"))
        yield queue


@pytest.fixture
def run(q):
    base = ["--redis-url", q.config.redis.url, "--queue", q.session.queue.name]

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, [*base, *args], input=input)

    return invoke


def one_line(result: Any) -> str:
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


# ------------------------------------------------------------------------------ queue name

BAD_QUEUE_NAMES = [
    ("", "must not be empty"),
    ("x" * 65, "at most 64"),
    ("a{b}", "forbidden characters"),
    ("a:b", "forbidden characters"),
    ("a b", "forbidden characters"),
    ("a\nb", "forbidden characters"),
    ("a\x00b", "forbidden characters"),
    ("fq", "reserved"),
    ("..", "reserved"),
]


@pytest.mark.parametrize(("name", "words"), BAD_QUEUE_NAMES)
def test_queue_name(name, words, server_url, nothing_written):
    with nothing_written():
        with pytest.raises(E.InvalidQueueName, match=words):
            QueueKeys(name)
        with pytest.raises(E.ConfigError, match=f"queue.name: .*{words}"):
            FairQueueConfig(redis={"url": server_url}, queue={"name": name})
        r = CliRunner().invoke(cli, ["--redis-url", server_url, "--queue", name, "info"])
        assert r.exit_code == 1 and "queue.name" in one_line(r) and words in one_line(r)


# ------------------------------------------------------------------------------ task fields


class Opaque:
    pass


TASK_CASES = [
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
    ({"payload": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
     E.InvalidPayload, "deeper than 32"),
    ({"delay": -1}, E.InvalidSchedule, "negative"),
    ({"delay": math.nan}, E.InvalidSchedule, "finite"),
    ({"delay": 10**12}, E.InvalidSchedule, "more than a year"),
    ({"execute_after": datetime.now(UTC) + timedelta(days=4000)}, E.InvalidSchedule, "year"),
    ({"max_attempts": 0}, E.InvalidSchedule, ">= 1"),
    ({"max_attempts": -3}, E.InvalidSchedule, ">= 1"),
    ({"handler": "bad name!"}, E.InvalidTaskId, "handler"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "exc", "words"), TASK_CASES)
def test_task_fields(kwargs, exc, words):
    args = {"user_id": "u1", "payload": {"ok": 1}, **kwargs}
    with pytest.raises(exc, match=words) as info:
        Task.create(**args)
    assert isinstance(info.value, FairQueueError)


def test_tasks_built_around_the_checks_are_still_refused_at_push(q, nothing_written):
    with nothing_written():
        for bad in (
            Task.model_construct(task_id="t1", user_id="a b", priority=3, payload=1),
            Task.model_construct(task_id="t 1", user_id="u", priority=3, payload=1),
            Task.model_construct(task_id="t1", user_id="u", priority=9, payload=1),
            Task.model_construct(task_id="t1", user_id="u", priority=True, payload=1),
        ):
            with pytest.raises(FairQueueError):
                q.push(bad)
            with pytest.raises(FairQueueError):
                q.push_batch([Task.create("u1", payload=1), bad])
        with pytest.raises(TypeError):
            q.push({"user_id": "u"})


CLI_PUSH_CASES = [
    # (push options, exit code, words): click refuses usage errors (2), fairque the rest (1)
    (["--user", "a b"], 1, "forbidden characters"),
    (["--user", "x" * 129], 1, "at most 128"),
    (["--user", "u", "--task-id", "has space"], 1, "malformed"),
    (["--user", "u", "--priority", "9"], 2, "not in the range 1<=x<=6"),
    (["--user", "u", "--priority", "high"], 2, "is not a valid integer"),
    (["--user", "u", "--payload", "{not json"], 2, "not valid JSON"),
    (["--user", "u", "--payload", "NaN"], 1, "not valid JSON"),
    (["--user", "u", "--payload", "[" * 40 + "]" * 40], 1, "deeper than 32"),
    (["--user", "u", "--delay", "-5"], 2, "not in the range x>=0"),
    (["--user", "u", "--delay", "1e12"], 1, "more than a year"),
    (["--user", "u", "--max-attempts", "0"], 2, "not in the range x>=1"),
    (["--user", "u", "--handler", "os.system; rm"], 1, "handler"),
]


@pytest.mark.parametrize(("args", "code", "words"), CLI_PUSH_CASES)
def test_cli_push(args, code, words, run, nothing_written):
    with nothing_written():
        r = run("push", *args)
    assert r.exit_code == code and words in one_line(r), r.output


def test_duplicate_task_id_with_another_payload_is_a_conflict(q, nothing_written, run):
    again = q.push(Task.create("u1", Priority.NORMAL, {"a": 1}, task_id="job-1"))
    assert again.created is False  # the same task again: idempotent
    with nothing_written():
        with pytest.raises(TaskIdConflict, match="job-1"):
            q.push(Task.create("u1", Priority.NORMAL, {"a": 2}, task_id="job-1"))
        with pytest.raises(TaskIdConflict):
            q.push(Task.create("u2", Priority.NORMAL, {"a": 1}, task_id="job-1"))
        # A conflicting batch writes none of its tasks, not even the good ones before the bad.
        with pytest.raises(TaskIdConflict):
            q.push_batch(
                [Task.create("u1", payload=1, task_id="fresh-1"),
                 Task.create("u1", payload={"a": 3}, task_id="job-1")]
            )  # fmt: skip
        with pytest.raises(TaskIdConflict):
            q.push_batch(
                [Task.create("u1", payload=1, task_id="dup"),
                 Task.create("u1", payload=2, task_id="dup")]
            )  # fmt: skip
        r = run("push", "--user", "u1", "--task-id", "job-1", "--payload", '{"a": 9}')
        assert r.exit_code == 1 and "job-1" in one_line(r)


# ------------------------------------------------------------------------------ payload size


def test_oversized_payloads_are_refused_by_the_client_and_by_the_script(
    make_config, raw, nothing_written
):
    config = make_config(queue={"max_payload_bytes": 1024})
    with Admin(config) as admin:  # the queue's limit in force, which every script enforces
        admin.apply_settings(config)
    with TaskQueue(config) as q, nothing_written():
        with pytest.raises(E.InvalidPayload, match="limit is 1024"):
            q.push(Task.create("u1", payload="x" * 2000))
        with pytest.raises(E.InvalidPayload):
            q.push_batch([Task.create("u1", payload=1), Task.create("u1", payload="é" * 600)])
        # A producer in another language calls the script itself, claiming a larger limit.
        args = [q.session.prefix, 10**6, 1, "t1", "u1", 3, '"' + "x" * 5000 + '"']
        with pytest.raises(ResponseError, match="PAYLOAD_TOO_LARGE"):
            raw.eval(load_script("push").source, 1, q.session.keys.meta, *args, "", "", "", "")


def test_nested_31_levels_is_fine():
    deep: list[Any] = [1]
    for _ in range(30):
        deep = [deep]
    assert Task.create("u1", payload=deep).payload == deep


# ------------------------------------------------------------------------ limits that do not fit

CONFIG_CASES = [
    # (sections for FairQueueConfig, words naming the field and the rule)
    ({"queue": {"max_attempts": 0}}, "queue.max_attempts"),
    ({"queue": {"visibility_timeout": -1}}, "queue.visibility_timeout"),
    ({"queue": {"visibility_timeout": 10},
      "workers": [{"id": "w", "heartbeat_interval": 6}]},
     "heartbeat_interval (6.0 s) must be at most half of queue.visibility_timeout"),
    ({"redis": {"socket_timeout": 0.5}, "workers": [{"id": "w", "poll_interval": 1}]},
     "socket_timeout must be longer than workers' poll_interval"),
    ({"scheduler": {"lock_ttl_seconds": 1, "tick_seconds": 0.9}},
     "tick_seconds must be at most half of lock_ttl_seconds"),
    ({"redis": {"url": "redis://h", "tls_ca_file": __file__}}, "url is not rediss://"),
]  # fmt: skip


@pytest.mark.parametrize(("sections", "words"), CONFIG_CASES)
def test_limits_that_cannot_work_together(sections, words):
    with pytest.raises(E.ConfigError, match="invalid configuration") as info:
        FairQueueConfig(**sections)
    assert words in str(info.value)


# ------------------------------------------------------------------------------ cron

CRON_CASES = [
    ({"cron": "61 * * * *"}, E.InvalidCronExpression, "cron '61 * * * *' is invalid"),
    ({"cron": "* 25 * * *"}, E.InvalidCronExpression, "invalid"),
    ({"cron": "* * * 13 *"}, E.InvalidCronExpression, "invalid"),
    ({"cron": "0 0 30 2 *"}, E.InvalidCronExpression, "never fires"),
    ({"cron": "0 0 31 4 *"}, E.InvalidCronExpression, "never fires"),
    ({"cron": "* *"}, E.InvalidCronExpression, "2 fields"),
    ({"timezone": "Mars/Olympus"}, E.InvalidTimezone, "timezone 'Mars/Olympus'"),
]


@pytest.mark.parametrize(("kw", "exc", "words"), CRON_CASES)
def test_cron(kw, exc, words, q, nothing_written, run):
    spec = {"name": "nightly", "cron": "0 3 * * *", "user_id": "u1", **kw}
    with pytest.raises(exc) as info:
        ScheduledTask(**spec)
    assert words in str(info.value)
    cli_args = ["schedule", "add", "nightly", spec["cron"], "--user", "u1"]
    with nothing_written():
        r = run(*cli_args, "--tz", spec.get("timezone", "UTC"))
    assert r.exit_code == 1 and words in one_line(r)


OTHER_SCHEDULE_CASES = [
    ({"cron": ""}, E.InvalidCronExpression, "cron must be"),
    ({"timezone": ""}, E.InvalidTimezone, "timezone must be"),
    ({"name": "has space"}, E.InvalidTaskId, "schedule name"),
    ({"user_id": "a{b}"}, E.InvalidUserId, "user_id"),
    ({"priority": 0}, E.InvalidPriority, "1-6"),
    ({"payload": {1, 2}}, E.InvalidPayload, "JSON"),
    ({"catch_up_max": 0}, E.FairQueueError, "catch_up_max"),
    ({"missed": "sometimes"}, E.FairQueueError, "missed"),
]


@pytest.mark.parametrize(("kw", "exc", "words"), OTHER_SCHEDULE_CASES)
def test_other_schedule_fields(kw, exc, words):
    with pytest.raises(exc, match=words):
        ScheduledTask(**{"name": "nightly", "cron": "0 3 * * *", "user_id": "u1", **kw})


def test_removing_a_schedule_that_does_not_exist(make_config, run, nothing_written):
    s = TaskScheduler(make_config())
    try:
        with nothing_written():
            assert s.remove("no-such") is False
            r = run("schedule", "rm", "no-such")
        assert r.exit_code == 1 and "no-such" in one_line(r), r.output
    finally:
        s.queue.close()


# ------------------------------------------------------------------------------ handlers


# A task naming an unregistered handler goes to the DLQ as "unknown handler" and its module is
# never imported: tests/integration/test_workers.py (sync and async workers).


# ------------------------------------------------------------------------------ config file

CONFIG_FILE_CASES = [
    ("[queue]\nbogus = 1\n", "queue.bogus: unknown key"),
    ("surprise = 1\n", "surprise: unknown key"),
    ('[queue]\naging_seconds = "soon"\n', "queue.aging_seconds"),
    ('[queue]\nname = "a{b}"\n', "queue.name"),
    ('[queue.users."bad user"]\nweight = 1\n', "queue.users"),
    ('[queue.users."u"]\nweight = 0\n', "queue.users.u.weight"),
    ("[[workers]]\nconcurrency = 2\n", "workers.0.id: Field required"),
    ('[[workers]]\nid = "w"\nassigned_users = ["a b"]\n', "workers.0.assigned_users"),
    ('[[workers]]\nid = "w"\n[[workers]]\nid = "w"\n', "duplicate worker id"),
    ("[redis]\ncluster = 5\n", "redis.cluster"),
    ("[queue\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "words"), CONFIG_FILE_CASES)
def test_config_file(text, words, tmp_path, server_url, nothing_written):
    path = tmp_path / "fairque.toml"
    path.write_text(text)
    with pytest.raises(E.ConfigError) as info:
        FairQueueConfig.load(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message
    with nothing_written():
        r = CliRunner().invoke(cli, ["--redis-url", server_url, "--config", str(path), "info"])
    assert r.exit_code == 1 and words in one_line(r)


def test_a_missing_config_file(tmp_path):
    with pytest.raises(E.ConfigError, match="does not exist"):
        FairQueueConfig.load(tmp_path / "nope.toml")


# ------------------------------------------------------------------------------ connection


def test_unreachable_server_is_one_typed_line_with_the_password_masked():
    url = f"redis://app:hunter2@127.0.0.1:{free_port()}/0"
    config = FairQueueConfig(redis={"url": url, "socket_connect_timeout": 0.5})
    with pytest.raises(E.ConnectionProblem, match="cannot reach the server") as info:
        TaskQueue(config).open()
    assert "hunter2" not in str(info.value) and "app:***@" in str(info.value)
    r = CliRunner().invoke(cli, ["--redis-url", url, "info"])
    assert r.exit_code == 1 and "cannot reach the server" in one_line(r)
    assert "hunter2" not in r.output


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(extra_args=["--requirepass", "s3cret"]) as srv:
        yield srv


@pytest.mark.parametrize("password", ["wrong", ""])
def test_wrong_or_missing_password(password, guarded_server):
    url = f"redis://:{password}@127.0.0.1:{guarded_server.port}/0"
    with pytest.raises(E.ConnectionProblem) as info:
        TaskQueue(FairQueueConfig(redis={"url": url})).open()
    assert "refused the credentials" in str(info.value) or "NOAUTH" in str(info.value)
    if password:
        assert password not in str(info.value).replace("refused", "")
    r = CliRunner().invoke(cli, ["--redis-url", url, "info"])
    assert r.exit_code == 1 and "error:" in one_line(r)
    admin = redis.Redis(port=guarded_server.port, password="s3cret")
    assert admin.dbsize() == 0


@pytest.mark.parametrize("version", ["6.2.14", "5.0.0", "garbage"])
def test_a_server_too_old(version):
    info = {"redis_version": version, "maxmemory_policy": "noeviction", "aof_enabled": 0}
    with pytest.raises(E.UnsupportedServer, match="too old"):
        check_server(info, RedisConfig())


def test_an_evicting_server_is_refused_unless_accepted():
    with EmbeddedServer(extra_args=["--maxmemory-policy", "allkeys-lru"]) as srv:
        config = FairQueueConfig(redis={"url": srv.url})
        with pytest.raises(E.UnsupportedServer, match="maxmemory-policy is 'allkeys-lru'"):
            TaskQueue(config).open()
        r = CliRunner().invoke(cli, ["--redis-url", srv.url, "push", "--user", "u"])
        assert r.exit_code == 1 and "allkeys-lru" in one_line(r)
        assert redis.Redis.from_url(srv.url).dbsize() == 0  # refused before writing
        relaxed = FairQueueConfig(redis={"url": srv.url, "require_noeviction": False})
        with TaskQueue(relaxed) as q:
            assert q.push(Task.create("u", payload=1)).created


# TLS problems (untrusted certificate, host name, plain text to a TLS port, TLS files with a
# plain URL) are in tests/reliability/test_tls.py: they need a TLS-capable server.

# ------------------------------------------------------------------------------ CLI


CLI_USAGE_CASES = [
    (["push"], "Missing option '--user'"),
    (["drain"], "Missing option '--user'"),
    (["dlq", "requeue"], "choose what"),
    (["dlq", "purge"], "choose what"),
    (["dlq", "purge", "--older-than", "soon"], "not a duration"),
    (["users", "--sort", "mood"], "Invalid value for '--sort'"),
    (["nosuchcommand"], "No such command"),
]


@pytest.mark.parametrize(("args", "words"), CLI_USAGE_CASES)
def test_cli_usage_errors_exit_2(args, words, run, nothing_written):
    with nothing_written():
        r = run(*args)
    assert r.exit_code == 2 and words in one_line(r), r.output


DESTRUCTIVE = [
    ["dlq", "requeue", "--all"],
    ["dlq", "purge", "--all"],
    ["drain", "--user", "u1"],
]


@pytest.mark.parametrize("args", DESTRUCTIVE)
def test_destructive_without_yes_in_a_script_is_refused(args, run, nothing_written, monkeypatch):
    monkeypatch.setattr(output, "interactive", lambda: False)
    with nothing_written():
        r = run(*args)
    assert r.exit_code == 3 and "pass --yes" in one_line(r)


@pytest.mark.parametrize("answer", ["n\n", "\n", "maybe\nn\n"])
@pytest.mark.parametrize("args", DESTRUCTIVE)
def test_a_confirmation_not_given_changes_nothing(args, answer, run, nothing_written, monkeypatch):
    monkeypatch.setattr(output, "interactive", lambda: True)
    with nothing_written():
        r = run(*args, input=answer)
    assert r.exit_code == 1 and "aborted: nothing was changed" in one_line(r)


FILTERS_MATCHING_NOTHING = [
    ["dlq", "requeue", "--user", "nobody", "--yes"],
    ["dlq", "requeue", "--error", "no such error text", "--yes"],
    ["dlq", "purge", "--older-than", "30d", "--yes"],
    ["drain", "--user", "nobody", "--yes"],
]


@pytest.mark.parametrize("args", FILTERS_MATCHING_NOTHING)
def test_filters_that_match_nothing_exit_0(args, run, nothing_written):
    with nothing_written():
        r = run(*args)
    assert r.exit_code == 0 and "nothing to do" in one_line(r), r.output


def test_missing_things_exit_1(run, nothing_written):
    with nothing_written():
        for args in (["task", "show", "nope"], ["explain", "nope"], ["dlq", "show", "nope"]):
            r = run(*args)
            assert r.exit_code == 1 and "nope" in one_line(r), r.output


def test_acknowledging_a_task_without_a_lease_is_refused(q, nothing_written):
    t = q.get_task("ready0")
    assert t is not None
    with nothing_written(), pytest.raises(FairQueueError, match="no lease"):
        q.complete(Task.create("u1", payload={"n": 0}, task_id="ready0"))
