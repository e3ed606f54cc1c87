"""The least-privilege ACL line the README recommends is enough for every part of fairque,
and denies what fairque never needs (FLUSHALL, KEYS, CONFIG, other key prefixes)."""

from __future__ import annotations

import pytest
import redis

from fairque import FairQueueConfig, Task, TaskQueue, Worker
from fairque.monitoring import Admin, Inspector
from fairque.scheduler import ScheduledTask, TaskScheduler
from fairque.server import EmbeddedServer

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
        user_client = redis.Redis.from_url(url)
        for denied in (
            ("FLUSHALL",),
            ("KEYS", "*"),
            ("CONFIG", "GET", "maxmemory"),
            ("GET", "other:key"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                user_client.execute_command(*denied)
