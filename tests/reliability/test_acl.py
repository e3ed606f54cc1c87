"""The least-privilege ACL line the README recommends is enough for every part of fairque,
and denies what fairque never needs (FLUSHALL, KEYS, CONFIG, other key prefixes)."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import pytest
import redis

from fairque import FairQueueConfig, Task, TaskQueue, Worker
from fairque.monitoring import Admin, Inspector
from fairque.scheduler import ScheduledTask, TaskScheduler
from fairque.scripts.library import library
from fairque.server import EmbeddedServer, free_port

ACL_RULES = (
    "on >s3cret ~fq:* resetchannels -@all +@read +@write +@scripting -@dangerous "
    "+info +ping +time +wait +waitaof +client|setinfo +client|setname"
)


def test_the_recommended_acl_line_runs_everything_and_nothing_more():
    with EmbeddedServer() as srv:
        admin_client = redis.Redis.from_url(srv.url)
        admin_client.execute_command("ACL", "SETUSER", "fairque", *ACL_RULES.split())
        url = srv.url.replace("redis://", "redis://fairque:s3cret@")
        config = FairQueueConfig(
            redis={"url": url},
            queue={"name": "acl", "max_attempts": 1},
            workers=[{"id": "w1", "steal_targets": "*"}],
        )
        with TaskQueue(config) as q:
            q.push_batch([Task.create("u", 3, i, task_id=f"t{i}") for i in range(4)])
            q.complete(q.pop(), {"ok": 1})
            q.fail(q.pop(), "boom")
            q.heartbeat([held := q.pop()])
            q.release([held])
            ins = Inspector(config, queue=q)
            assert ins.overview().totals.dead == 1
            assert ins.users().rows and ins.explain("t3") is not None
            assert ins.alerts() is not None and ins.workers() == []
            admin = Admin(config, queue=q)
            assert admin.requeue(all=True).touched == 1
            admin.pause("u")
            admin.resume("u")
            admin.drain("u", priority=3)
            assert ins.audit()
            sched = TaskScheduler(config, queue=q)
            sched.add(ScheduledTask(name="s", cron="0 * * * *", user_id="u"))
            assert sched.hold_lock()
            sched.tick()
            w = Worker(config, lambda t: None)
            w.queue.open()
            w.queue.run(w.core.beat_op(w.queue.parts))
        # The line allows the function library: the scripts ran as functions, not EVALSHA.
        assert admin_client.function_list(library=library().name)
        user_client = redis.Redis.from_url(url)
        for denied in (
            ("FLUSHALL",),
            ("KEYS", "*"),
            ("CONFIG", "GET", "maxmemory"),
            ("GET", "other:key"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                user_client.execute_command(*denied)


# What an operator's read-only account gets: reads of fairque's keys, and the read-only
# script call (EVALSHA_RO / EVAL_RO, for explain). No write command, no EVAL/EVALSHA, no
# SCRIPT LOAD: a read path that tried to write would be refused by the server itself.
READ_ONLY_RULES = (
    "on >r3ad ~fq:* resetchannels -@all +@read -@write -@scripting +evalsha_ro +eval_ro "
    "+info +ping +time +client|setinfo +client|setname"
)


READS = [
    ["info"], ["users"], ["user", "show", "acme"], ["task", "show", "acme-3-1"],
    ["explain", "acme-3-2"], ["dlq", "ls"], ["dlq", "ls", "--group-by", "user"], ["alerts"],
    ["config", "show"], ["metrics", "dump"], ["schedule", "ls"],
]  # fmt: skip


@pytest.fixture(scope="module")
def read_only():  # type: ignore[no-untyped-def]
    """A server with some of everything in queue "ro" (written by a normal account), the URL
    of the read-only account, and a check that nothing changed since."""
    with EmbeddedServer() as srv:
        admin_client = redis.Redis.from_url(srv.url)
        admin_client.execute_command("ACL", "SETUSER", "reader", *READ_ONLY_RULES.split())
        writer = FairQueueConfig(redis={"url": srv.url}, queue={"name": "ro", "max_attempts": 1})
        with TaskQueue(writer) as q:
            tasks = [(u, p, i) for u in ("acme", "globex") for p in (3, 6) for i in range(3)]
            q.push_batch([Task.create(u, p, i, task_id=f"{u}-{p}-{i}") for u, p, i in tasks])
            q.fail(q.pop(), "boom")
            q.push(Task.create("ini", 3, 0, task_id="ini-1", tenant="initech"))
            TaskScheduler(writer, queue=q).add(
                ScheduledTask(name="nightly", cron="0 3 * * *", user_id="acme")
            )

        def every_key() -> dict[bytes, bytes | None]:
            return {k: admin_client.dump(k) for k in admin_client.scan_iter(count=1000)}

        before = every_key()
        url = srv.url.replace("redis://", "redis://reader:r3ad@")
        yield FairQueueConfig(redis={"url": url}, queue={"name": "ro"})
        assert every_key() == before  # not a byte changed by any read path


def test_the_read_only_account_may_not_write(read_only):  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(read_only.redis.url)
    for refused in (("SET", "fq:{ro}:x", "1"), ("DEL", "fq:{ro}:meta"),
                    ("EVAL", "return 1", "0"), ("SCRIPT", "LOAD", "return 1")):  # fmt: skip
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*refused)


def test_every_inspector_read_and_the_metrics_endpoint_work_read_only(read_only):  # type: ignore[no-untyped-def]
    from fairque.monitoring.metrics import dump, serve

    with Inspector(read_only) as ins:
        assert ins.overview().totals.ready == 12 and ins.overview().totals.dead == 1
        assert {r.user_id for r in ins.users().rows} == {"acme", "globex", "ini"}
        assert ins.user("acme").row.ready >= 5 and ins.task("acme-3-1") is not None
        assert ins.explain("acme-3-2") is not None  # a read-only script: EVAL_RO
        assert len(ins.dlq(10, 0)) == 1 and ins.dlq_groups("error").total == 1
        assert ins.workers() == [] and ins.alerts() is not None
        assert [s.schedule.name for s in ins.schedules()] == ["nightly"]
        assert ins.config_state() is not None and ins.audit() is not None
        assert "fairque_tasks_total" in dump(ins)
        port = free_port()
        exporter = serve(ins, port=port)  # `fairque metrics serve`
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                assert b"fairque_backlog" in r.read()
        finally:
            exporter.shutdown()


@pytest.mark.parametrize("argv", READS, ids=" ".join)
def test_every_cli_read_command_works_read_only(read_only, argv):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from fairque.cli.main import cli

    base = ["--redis-url", read_only.redis.url, "--queue", "ro", "--read-only"]
    for json_out in ([], ["--json"]):
        r = CliRunner().invoke(cli, [*base, *json_out, *argv])
        assert r.exit_code == 0, (argv, r.output)


def test_the_tui_and_shell_completion_work_read_only(read_only):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from fairque.cli.main import cli
    from fairque_tui.source import LiveSource

    words = f"fairque --redis-url {read_only.redis.url} --queue ro pause --user ac"
    env = {"_FAIRQUE_COMPLETE": "bash_complete", "COMP_CWORD": "7", "COMP_WORDS": words}
    assert "acme" in CliRunner().invoke(cli, [], prog_name="fairque", env=env).output
    asyncio.run(_read_everything(LiveSource(read_only, read_only=True)))


async def _read_everything(source: Any) -> None:
    """What each screen of the TUI reads, on one event loop as the app does."""
    try:
        assert (await source.overview("backlog")).users.rows
        assert (await source.user("acme", 0, 10)).row.user_id == "acme"
        assert await source.dlq(0, 10) and (await source.dlq_groups("error")).groups
        assert await source.workers() == [] and await source.schedules()
        assert await source.alerts() is not None
        assert await source.explain("acme-3-2") is not None
        assert [t.tenant for t in await source.tenants()] == ["initech"]
        tenant = await source.tenant("initech")
        assert tenant is not None and [u.user_id for u in tenant.users] == ["ini"]
        tail = await source.tail(None)
        assert [e.event for e in tail.events] == ["dead"]
        assert (await source.tail(tail.cursor)).events == []
    finally:
        await source.close()


def test_a_cancel_from_the_read_only_account_is_refused_and_changes_nothing(read_only):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from fairque.cli.main import cli

    base = ["--redis-url", read_only.redis.url, "--queue", "ro"]
    refused = CliRunner().invoke(cli, [*base, "task", "cancel", "acme-3-1", "--yes"])
    assert refused.exit_code == 1 and "no permissions" in refused.output, refused.output
    flagged = CliRunner().invoke(cli, [*base, "--read-only", "task", "cancel", "acme-3-1", "--yes"])
    assert flagged.exit_code == 3  # refused before reaching the server
    # (the fixture checks that not a byte of the server changed)
