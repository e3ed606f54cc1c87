"""Running a delayed task now (``Admin.retry_now``, ``fairque task retry``): a retry waiting
out its backoff or a push with a delay becomes due at once; anything else is left as it is
and said so; read-only refuses it and changes nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from fairque import Task
from fairque.cli.main import cli
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.admin_ops import ReadOnlyError


def test_a_delayed_push_and_a_backed_off_retry_run_now(make_queue, make_config):
    q = make_queue(make_config(queue={"max_attempts": 3, "retry_base_seconds": 3600}))
    q.push(Task.create("u", 3, "later", task_id="later", delay=3600))
    q.push(Task.create("u", 3, "flaky", task_id="flaky"))
    q.fail(q.pop(), "try again")  # retried in an hour
    q.push(Task.create("u", 3, "now", task_id="ready"))
    assert q.pop().task_id == "ready" and q.pop() is None
    with Admin(q.config) as admin:
        result = admin.retry_now(["later", "flaky", "ready", "nope"])
        audit = Inspector(q.config).audit(1)[0]
    assert result.detail == {"later": "ok", "flaky": "ok", "ready": "leased", "nope": "missing"}
    assert (result.matched, result.touched) == (3, 2)
    assert audit.action == "retry_now" and audit.count == 2
    assert {q.pop().task_id, q.pop().task_id} == {"later", "flaky"}
    assert q.get_task("flaky").attempts == 2


def test_read_only_refuses_and_changes_nothing(make_queue, make_config):
    q = make_queue(make_config())
    q.push(Task.create("u", 3, "later", task_id="later", delay=3600))
    with Admin(q.config, read_only=True) as admin, pytest.raises(ReadOnlyError):
        admin.retry_now(["later"])
    assert q.pop() is None and q.get_task("later").state == "delayed"


def test_the_command_says_what_became_of_each_task(make_queue, make_config):
    q = make_queue(make_config())
    q.push(Task.create("u", 3, "later", task_id="later", delay=3600))
    base = ["--redis-url", q.config.redis.url, "--queue", q.config.queue.name]
    done = CliRunner().invoke(cli, [*base, "task", "retry", "later", "gone", "--yes"])
    assert done.exit_code == 0, done.output
    assert "later: due now" in done.output and "gone: no such task" in done.output
    assert q.pop().task_id == "later"
    missing = CliRunner().invoke(cli, [*base, "task", "retry", "gone", "--yes"])
    assert missing.exit_code == 1
    refused = CliRunner().invoke(cli, [*base, "--read-only", "task", "retry", "x", "--yes"])
    assert refused.exit_code == 3
