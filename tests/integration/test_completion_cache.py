"""Shell completion of user names answers from a per-setting cache file: fresh names as they
are, stale ones at once while a detached process fetches them again, missing or old ones from
the server while the shell waits."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from fairque import Task
from fairque.cli import completion
from fairque.cli.context import CliContext
from fairque.cli.main import cli
from fairque.queue import TaskQueue
from tests.support.waiting import wait_for


@pytest.fixture
def q(make_config):
    with TaskQueue(make_config()) as queue:
        yield queue


def complete(q: TaskQueue, prefix: str, queue: str | None = None) -> list[str]:
    words = (
        f"fairque --redis-url {q.config.redis.url} --queue {queue or q.session.queue.name} "
        f"pause --user {prefix}"
    )
    env = {"_FAIRQUE_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "7"}
    out = CliRunner().invoke(cli, [], prog_name="fairque", env=env).output
    return [line.split(",", 1)[1] for line in out.splitlines() if line.startswith("plain,")]


def cache_of(q: TaskQueue):
    return completion.cache_file(CliContext(q.config.redis.url, q.session.queue.name, None, False))


def age(path, seconds: float) -> None:
    data = json.loads(path.read_text())
    data["at"] -= seconds
    path.write_text(json.dumps(data))


def test_fresh_names_come_from_the_cache(q):
    q.push(Task.create("alpha", 3, 0))
    assert complete(q, "al") == ["alpha"]
    path = cache_of(q)
    assert json.loads(path.read_text())["users"] == ["alpha"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    q.push(Task.create("alpine", 3, 0))
    assert complete(q, "al") == ["alpha"]  # fresh: the server was not asked


def test_stale_names_are_shown_and_fetched_again_behind(q):
    q.push(Task.create("alpha", 3, 0))
    complete(q, "al")
    path = cache_of(q)
    q.push(Task.create("alpine", 3, 0))
    age(path, completion.FRESH_SECONDS + 1)
    assert complete(q, "al") == ["alpha"]  # at once, from the cache ...
    wait_for(lambda: json.loads(path.read_text())["users"] == ["alpha", "alpine"])
    wait_for(lambda: not path.with_suffix(".refreshing").exists())
    assert complete(q, "al") == ["alpha", "alpine"]  # ... and fetched again for the next TAB


def test_the_background_fetch_keeps_the_url_off_its_command_line(q, monkeypatch):
    """A --redis-url may hold a password: the detached fetch gets it in its environment
    (readable only by its user), never in its argv (readable by anyone through ps)."""
    started: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        completion.subprocess, "Popen", lambda argv, env, **kw: started.append((argv, env))
    )
    cli_ctx = CliContext("redis://:s3cret@127.0.0.1:1/0", q.session.queue.name, None, False)
    completion.refresh_behind(cli_ctx, cache_of(q))
    ((argv, env),) = started
    assert not any("s3cret" in a for a in argv)
    assert "s3cret" in env[completion.REFRESH_ENV]
    cache_of(q).with_suffix(".refreshing").unlink()


def test_old_names_are_fetched_while_the_shell_waits(q):
    q.push(Task.create("alpha", 3, 0))
    complete(q, "al")
    q.push(Task.create("alpine", 3, 0))
    age(cache_of(q), completion.KEEP_SECONDS + 1)
    assert complete(q, "al") == ["alpha", "alpine"]


def test_each_setting_has_its_own_cache(q, make_config, queue_name, raw):
    q.push(Task.create("alpha", 3, 0))
    name = f"{queue_name}-other"
    try:
        with TaskQueue(make_config(queue={"name": name})) as other:
            other.push(Task.create("alps", 3, 0))
            assert complete(q, "al") == ["alpha"]
            assert complete(other, "al") == ["alps"]
            assert cache_of(q) != cache_of(other)
    finally:
        for key in raw.scan_iter(match=f"fq:{{{name}}}:*", count=1000):
            raw.delete(key)


def test_an_unreadable_cache_is_fetched_again(q):
    q.push(Task.create("alpha", 3, 0))
    complete(q, "al")
    cache_of(q).write_text("{not json")
    assert complete(q, "al") == ["alpha"]
