"""A rate limit's state lives in the server: it survives a restart (AOF), so a restarted
server does not hand out a fresh burst, and a throttled user still comes back by itself."""

from __future__ import annotations

import time

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer


def test_a_rate_limit_survives_a_server_restart(tmp_path):
    server = EmbeddedServer(
        directory=tmp_path / "data", appendonly=True, extra_args=["--appendfsync", "always"]
    ).start()
    try:
        config = FairQueueConfig(
            redis={"url": server.url},
            queue={
                "name": "limited",
                "users": {
                    "slow": {"rate": "1/h", "burst": 2},
                    "quick": {"rate": "5/s", "burst": 1},
                },
            },
        )
        with TaskQueue(config) as q:
            q.push_batch([Task.create(u, 3, i) for u in ("slow", "quick") for i in range(5)])
            served = []
            while (t := q.pop()) is not None:
                served.append(t.user_id)
                q.complete(t)
            assert sorted(served) == ["quick", "slow", "slow"]  # both bursts spent
        server.stop()  # a restart: the same data directory, the same AOF
        server.start()
        with TaskQueue(config) as q:
            assert q.pop() is None  # no fresh burst after the restart
            # quick's next token (one every 200 ms) still comes, by itself.
            deadline = time.monotonic() + 5
            got = None
            while got is None and time.monotonic() < deadline:
                got = q.pop()
                time.sleep(0.02)
            assert got is not None and got.user_id == "quick"
            q.complete(got)
    finally:
        server.stop()
