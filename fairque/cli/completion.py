"""Shell completion of values that live in the server (user names).

Asking the server means loading the config and a Redis client: 0.3-0.4 s of imports (pydantic,
redis-py) on every TAB. So the names are kept in a small cache file per setting (the flags, the
``FAIRQUE_*`` environment and the config file in effect, with its modification time) and
served from there:

- younger than :data:`FRESH_SECONDS`: shown as they are;
- older (up to :data:`KEEP_SECONDS`): shown, and a detached process fetches them again for the
  next TAB (stale-while-revalidate);
- missing or older than that: fetched while the shell waits, as without a cache.

The file is the user's own (``$XDG_CACHE_HOME/fairque``, mode 0600) and holds user names only.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from fairque.cli.context import CliContext
from fairque.cli.global_options import completion_context

FRESH_SECONDS = 5.0
KEEP_SECONDS = 3600.0
REFRESH_LOCK_SECONDS = 30.0  # one background fetch at a time per cache file
TOP_USERS = 200
# What the background fetch needs travels in its environment, not its argv: a --redis-url may
# hold a password, and any user can read another's command line (ps), not its environment.
REFRESH_ENV = "_FAIRQUE_COMPLETION_REFRESH"


def complete_users(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """The users with the most backlog that start with ``incomplete``."""
    try:
        cli = completion_context(ctx)
        path = cache_file(cli)
        names, age = read_cache(path)
        if names is None or age > KEEP_SECONDS:
            names = fetch_and_store(cli, path)
        elif age > FRESH_SECONDS:
            refresh_behind(cli, path)
        return sorted(n for n in names if n.startswith(incomplete))
    except Exception:  # completion must never print a traceback into the shell
        return []


def cache_file(cli: CliContext) -> Path:
    """The cache file for this process's settings: whatever decides which queue it reads."""
    from fairque.core.config_file import config_file

    chosen = config_file(cli.config_path)
    stamp = None
    if chosen is not None:
        try:
            stamp = [str(chosen.resolve()), chosen.stat().st_mtime_ns]
        except OSError:
            stamp = [str(chosen), None]
    inputs = {
        "flags": [cli.redis_url, cli.queue, cli.cluster],
        "file": stamp,
        "env": sorted((k, v) for k, v in os.environ.items() if k.startswith("FAIRQUE_")),
    }
    key = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:24]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fairque" / f"users-{key}.json"


def read_cache(path: Path) -> tuple[list[str] | None, float]:
    """The cached names and their age in seconds (None when there is no usable cache)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        names = [n for n in data["users"] if isinstance(n, str)]
        return names, time.time() - float(data["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, 0.0


def fetch_and_store(cli: CliContext, path: Path) -> list[str]:
    """Ask the server (every partition's busiest users, one round trip) and keep the answer."""
    config = cli.config()
    fast = config.redis.model_copy(update={"socket_connect_timeout": 0.5})
    config = config.model_copy(update={"redis": fast})
    from fairque.queue import TaskQueue
    from fairque.queue.ops import gather
    from fairque.queue.reads import busiest_users

    with TaskQueue(config) as q:
        tops = q.run(gather([busiest_users(s, TOP_USERS) for s in q.parts.sessions]))
    names = sorted({n for top in tops for n in top})
    _write_private(path, json.dumps({"at": time.time(), "users": names}))
    return names


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def refresh_behind(cli: CliContext, path: Path) -> None:
    """Fetch the names again in a detached process (unless one is already at it)."""
    lock = path.with_suffix(".refreshing")
    try:
        if time.time() - lock.stat().st_mtime < REFRESH_LOCK_SECONDS:
            return
        lock.unlink()
    except FileNotFoundError:
        pass
    try:
        lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    args = json.dumps([cli.redis_url, cli.queue, cli.config_path, cli.cluster, str(path)])
    subprocess.Popen(
        [sys.executable, "-m", "fairque.cli.completion"],
        env={**os.environ, REFRESH_ENV: args},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _refresh_main() -> None:
    redis_url, queue, config_path, cluster, path = json.loads(os.environ.pop(REFRESH_ENV))
    target = Path(path)
    try:
        fetch_and_store(CliContext(redis_url, queue, config_path, False, cluster=cluster), target)
    finally:
        target.with_suffix(".refreshing").unlink(missing_ok=True)


if __name__ == "__main__":
    _refresh_main()
