"""Every operations command through click's CliRunner against the real server."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fairque import Task, TaskQueue
from fairque.cli import output
from fairque.cli.main import cli


@pytest.fixture
def q(make_config):
    with TaskQueue(make_config(queue={"max_attempts": 1})) as queue:
        yield queue


@pytest.fixture
def run(q):
    base = ["--redis-url", q.config.redis.url, "--queue", q.session.queue.name]

    def invoke(*args: str, input: str | None = None, json_out: bool = False):
        argv = [*base, *(["--json"] if json_out else []), *args]
        result = CliRunner().invoke(cli, argv, input=input)
        if json_out and result.exit_code == 0:
            result.doc = json.loads(result.output)
        return result

    return invoke


def bury(q, user, n):
    q.push_batch([Task.create(user, 3, i, task_id=f"{user}-{i}") for i in range(n)])
    for _ in range(n):
        q.fail(q.pop(), ValueError(f"bad {user}"))


def test_push_then_read_it_back_everywhere(run, q):
    r = run(
        "push",
        "--user",
        "acme",
        "--priority",
        "5",
        "--payload",
        '{"a": 1}',
        "--task-id",
        "t1",
        json_out=True,
    )
    assert r.exit_code == 0 and r.doc == {"task_id": "t1", "created": True, "state": "ready"}
    assert (
        run(
            "push",
            "--user",
            "acme",
            "--payload",
            '{"a": 1}',
            "--task-id",
            "t1",
            "--priority",
            "5",
            json_out=True,
        ).doc["created"]
        is False
    )
    assert run("task", "show", "t1", json_out=True).doc["payload"] == {"a": 1}
    info = run("info", json_out=True).doc
    assert info["overview"]["totals"]["ready"] == 1
    # No worker runs: the task's user is unserved (and nothing else fires).
    assert [(a["rule"], a["subject"]) for a in info["alerts"]] == [("unserved", "acme")]
    assert run("users", json_out=True).doc["rows"][0]["user_id"] == "acme"
    assert run("user", "show", "acme", json_out=True).doc["pending"]["5"][0]["task_id"] == "t1"
    assert run("explain", "t1", json_out=True).doc["ahead_in_user"] == 0
    for args in (
        ["info"],
        ["users"],
        ["users", "--sort", "wait"],
        ["users", "--sort", "name"],
        ["user", "show", "acme"],
        ["task", "show", "t1"],
        ["explain", "t1"],
        ["alerts"],
    ):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
    assert "acme" in run("users").output


def test_payload_from_a_file_and_delay(run, tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{"big": [1, 2, 3]}')
    r = run("push", "--user", "u", "--payload", f"@{f}", "--delay", "60", json_out=True)
    assert r.exit_code == 0 and r.doc["state"] == "delayed"


def test_dlq_ls_show_groups_requeue_purge(run, q):
    bury(q, "a", 3)
    bury(q, "b", 2)
    assert len(run("dlq", "ls", json_out=True).doc) == 5
    assert [e["task_id"] for e in run("dlq", "ls", "--user", "b", json_out=True).doc] == [
        "b-1",
        "b-0",
    ]
    assert len(run("dlq", "ls", "--error", "BAD A", json_out=True).doc) == 3
    groups = run("dlq", "ls", "--group-by", "user", json_out=True).doc
    assert {g["key"]: g["count"] for g in groups["groups"]} == {"a": 3, "b": 2}
    assert run("dlq", "show", "a-0", json_out=True).doc["error"] == "bad a"
    assert "ValueError: bad a" in run("dlq", "show", "a-0").output
    r = run("dlq", "requeue", "--user", "b", json_out=True)
    assert (r.doc["matched"], r.doc["touched"]) == (2, 2)
    r = run("dlq", "purge", "--user", "a", "--dry-run", json_out=True)
    assert r.doc["dry_run"] and r.doc["matched"] == 3 and q.stats().dead == 3
    assert run("dlq", "purge", "a-0", "--yes", json_out=True).doc["touched"] == 1
    assert run("dlq", "purge", "--older-than", "1h", "--yes").output.startswith("nothing to do")


def test_confirmations_declined_accepted_yes_and_refused(run, q, monkeypatch):
    bury(q, "a", 2)
    r = run("dlq", "requeue", "--all")  # no terminal, no --yes
    assert r.exit_code == 3 and "pass --yes" in r.output and q.stats().dead == 2
    monkeypatch.setattr(output, "interactive", lambda: True)
    r = run("dlq", "requeue", "--all", input="n\n")
    assert r.exit_code == 1 and "aborted" in r.output and q.stats().dead == 2
    r = run("dlq", "requeue", "--all", input="y\n")
    assert r.exit_code == 0 and "requeued: 2 of 2" in r.output and q.stats().dead == 0
    for _ in range(2):
        q.fail(q.pop(), "again")
    monkeypatch.setattr(output, "interactive", lambda: False)
    assert run("dlq", "requeue", "--all", "--yes").exit_code == 0 and q.stats().dead == 0


def test_dry_run_touches_nothing_and_read_only_refuses(run, q, raw, tmp_path):
    bury(q, "a", 2)
    q.push_batch([Task.create("c", 3, i) for i in range(3)])
    before = {
        k: raw.dump(k)
        for k in raw.scan_iter(match=f"fq:{{{q.session.queue.name}}}:*", count=1000)
        if ":tp:" not in k
    }
    for args in (
        ["dlq", "requeue", "--all", "--dry-run"],
        ["dlq", "purge", "--all", "--dry-run"],
        ["drain", "--user", "c", "--dry-run"],
    ):
        r = run(*args)
        assert r.exit_code == 0 and "dry run" in r.output, (args, r.output)
    for args in (
        ["push", "--user", "x"],
        ["dlq", "requeue", "--all", "--yes"],
        ["dlq", "purge", "--all", "--yes"],
        ["drain", "--user", "c", "--yes"],
        ["pause", "--user", "c"],
        ["resume", "--user", "c"],
        ["schedule", "add", "s", "0 * * * *", "--user", "c"],
        ["schedule", "rm", "s"],
        ["worker", "--handler", "tests.support.handlers:noop"],
        ["scheduler", "run"],
    ):
        r = run("--read-only", *args)
        assert r.exit_code == 3 and "refused" in r.output, (args, r.output)
    after = {
        k: raw.dump(k)
        for k in raw.scan_iter(match=f"fq:{{{q.session.queue.name}}}:*", count=1000)
        if ":tp:" not in k
    }
    assert after == before
    assert run("--read-only", "info").exit_code == 0  # looking is allowed


def test_drain_with_export_pause_resume(run, q, tmp_path):
    q.push_batch([Task.create("noisy", 3, i) for i in range(4)] + [Task.create("calm", 3, 0)])
    out = tmp_path / "noisy.jsonl"
    r = run("drain", "--user", "noisy", "--export", str(out), "--yes", json_out=True)
    assert r.doc["touched"] == 4 and len(out.read_text().splitlines()) == 4
    assert run("pause", "--user", "calm").output.strip() == "calm paused"
    assert q.pop() is None
    assert run("resume", "--user", "calm", json_out=True).doc["touched"] == 1
    assert q.pop().user_id == "calm"


def test_alerts_watch_and_json(run, q):
    bury(q, "a", 1)
    r = run("alerts", "--watch", "--interval", "0.1", "--count", "2")
    assert r.exit_code == 0 and r.output.count("no alerts") == 2


def test_shell_completion_offers_users_with_work(q, monkeypatch):
    q.push_batch([Task.create(u, 3, 0) for u in ("alpha", "alpine", "beta")])
    monkeypatch.setenv("_FAIRQUE_COMPLETE", "bash_complete")
    monkeypatch.setenv(
        "COMP_WORDS",
        f"fairque --redis-url {q.config.redis.url} --queue {q.session.queue.name} pause --user al",
    )
    monkeypatch.setenv("COMP_CWORD", "7")
    r = CliRunner().invoke(cli, [], prog_name="fairque")
    assert "alpha" in r.output and "alpine" in r.output and "beta" not in r.output


def test_config_show_and_apply(run, tmp_path, nothing_written):
    shown = run("config", "show")
    assert shown.exit_code == 0 and "no user settings written yet" in shown.output
    path = tmp_path / "fairque.toml"
    path.write_text(
        '[queue]\ndefault_weight = 2\n[queue.users."acme"]\nweight = 4\nmax_inflight = 3\n'
    )
    with nothing_written():
        dry = run("config", "apply", str(path), "--dry-run")
        assert dry.exit_code == 0 and "dry run: 1 change(s)" in dry.output
        assert run("--read-only", "config", "apply", str(path), "--dry-run").exit_code == 0
        assert run("--read-only", "config", "apply", str(path), "--yes").exit_code == 3
        assert run("config", "apply", str(path)).exit_code == 3  # not a terminal, no --yes
    done = run("config", "apply", str(path), "--yes")
    assert done.exit_code == 0 and "applied: settings" in done.output
    again = run("config", "apply", str(path), "--yes")
    assert "already in force" in again.output
    doc = run("config", "show", json_out=True).doc
    assert doc["settings"]["default_weight"] == 2
    assert doc["settings"]["users"]["acme"] == {"weight": 4, "max_inflight": 3}
    assert doc["written_how"] == "apply" and "@" in doc["written_by"]
    audit = run("config", "show")
    assert "acme" in audit.output and "written by" in audit.output


def test_read_commands_write_nothing(run, q, nothing_written):
    bury(q, "dead-user", 2)
    q.push_batch([Task.create("acme", 3, i, task_id=f"acme-{i}") for i in range(3)])
    reads = [
        ["info"], ["users"], ["user", "show", "acme"], ["task", "show", "acme-0"],
        ["explain", "acme-1"], ["dlq", "ls"], ["dlq", "ls", "--group-by", "error"],
        ["alerts"], ["config", "show"], ["metrics", "dump"], ["schedule", "ls"],
    ]  # fmt: skip
    with nothing_written():
        for argv in reads:
            for json_out in (False, True) if argv[0] != "metrics" else (False,):
                r = run(*argv, json_out=json_out)
                assert r.exit_code == 0, (argv, r.output)


def test_global_options_after_the_command_act_like_before(run, q, nothing_written):
    bury(q, "dead", 1)
    q.push_batch([Task.create("acme", 3, i) for i in range(2)])
    url, name = q.config.redis.url, q.session.queue.name
    before = CliRunner().invoke(cli, ["--redis-url", url, "--queue", name, "--json", "users"])
    after = CliRunner().invoke(cli, ["users", "--json", "--queue", name, "--redis-url", url])
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.output)["rows"][0]["user_id"] == "acme"
    assert [r["ready"] for r in json.loads(after.output)["rows"]] == [2]
    with nothing_written():
        refused = CliRunner().invoke(
            cli, ["push", "--user", "acme", "--redis-url", url, "--queue", name, "--read-only"]
        )
        assert refused.exit_code == 3 and "--read-only" in refused.output
        assert run("dlq", "requeue", "--all", "--yes", "--read-only").exit_code == 3


def test_no_table_cuts_a_cell_at_80_columns(run, q, monkeypatch, tmp_path):
    long_user = "customer-" + "x" * 30
    bury(q, long_user, 2)
    q.push_batch([Task.create(f"{long_user}-{i}", 3, 0) for i in range(3)])
    path = tmp_path / "fairque.toml"
    path.write_text(f'[queue.users."{long_user}"]\nweight = 4\nmax_inflight = 3\n')
    assert run("config", "apply", str(path), "--yes").exit_code == 0
    added = run("schedule", "add", "a-rather-long-schedule-name", "*/5 * * * *", "--user",
                long_user)  # fmt: skip
    assert added.exit_code == 0, added.output
    monkeypatch.setattr(output.console, "_width", 80)
    for argv in (
        ["info"], ["users"], ["users", "--sort", "name"], ["user", "show", long_user],
        ["dlq", "ls"], ["dlq", "ls", "--group-by", "error"], ["dlq", "ls", "--group-by", "user"],
        ["alerts"], ["config", "show"], ["schedule", "ls"],
    ):  # fmt: skip
        r = run(*argv)
        assert r.exit_code == 0, (argv, r.output)
        assert "…" not in r.output, (argv, r.output)
        assert max(map(len, r.output.splitlines())) <= 80, (argv, r.output)
    assert long_user not in run("users").output  # folded onto two lines in its column
    assert long_user in run("users", "--wide").output  # --wide: one line, as wide as it takes
