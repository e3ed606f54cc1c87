"""R7 (routing): a hypothesis state machine registers, expires and restarts workers with
random assignments while tasks are pushed and popped, and checks after every step that the
routing the server derived matches the live registrations, and that a pop by a live worker
returns a task whenever a ready user exists that its registration allows (assigned, a named
steal target, or '*'), its own users first."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.queue import ops

USERS = ["a", "b", "c", "d", "e"]
WORKERS = ["w1", "w2", "w3"]
SCALE = int(os.environ.get("FAIRQUE_RELIABILITY_SCALE", "1"))

assignments = st.lists(st.sampled_from(USERS), max_size=3, unique=True)
steals = st.one_of(st.just("*"), st.lists(st.sampled_from(USERS), max_size=2, unique=True))


@pytest.fixture(scope="module", autouse=True)
def _server_url(server_url: str) -> None:
    RoutingMachine.url = server_url


class RoutingMachine(RuleBasedStateMachine):
    url = ""

    def __init__(self) -> None:
        super().__init__()
        self.name = "rm-" + uuid.uuid4().hex[:10]
        self.raw = redis.Redis.from_url(self.url, decode_responses=True)
        self.producer = TaskQueue(self.config([])).open()
        self.keys = self.producer.session.keys
        self.queues: dict[str, TaskQueue] = {}  # worker -> its queue (its own config)
        self.regs: dict[str, tuple[list[str], Any]] = {}  # worker -> its configured lists
        self.live: set[str] = set()  # workers whose registration is live in the model
        self.ready: dict[str, int] = dict.fromkeys(USERS, 0)
        self.n = 0

    def config(self, workers: list[dict[str, Any]]) -> FairQueueConfig:
        return FairQueueConfig(redis={"url": self.url}, queue={"name": self.name}, workers=workers)

    def teardown(self) -> None:
        for q in self.queues.values():
            q.close()
        self.producer.close()
        for key in self.raw.scan_iter(match=self.keys.prefix + "*", count=1000):
            self.raw.delete(key)
        self.raw.close()

    def allowed(self, worker: str) -> tuple[set[str], set[str]]:
        assigned, steal = self.regs[worker]
        return set(assigned), set(USERS) if steal == "*" else set(steal)

    # -- rules ----------------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), n=st.integers(1, 3))
    def push(self, user: str, n: int) -> None:
        self.producer.push_batch(
            [Task.create(user, 3, i, task_id=f"t{self.n + i}") for i in range(n)]
        )
        self.n += n
        self.ready[user] += n

    @rule(worker=st.sampled_from(WORKERS), assigned=assignments, steal=steals)
    def start_or_restart(self, worker: str, assigned: list[str], steal: Any) -> None:
        """A worker process starts (or restarts with other flags) and registers."""
        if worker in self.queues:
            self.queues.pop(worker).close()
        entry = {"id": worker, "assigned_users": assigned, "steal_targets": steal, "steal_after": 0}
        q = TaskQueue(self.config([entry]), worker_id=worker).open()
        q.run(ops.register(q.session))
        self.queues[worker] = q
        # A worker that names nobody serves everyone (WorkerConfig: never an empty scope).
        self.regs[worker] = (assigned, steal if assigned or steal else "*")
        self.live.add(worker)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def goes_stale(self, data: st.DataObject) -> None:
        """A worker stops beating (SIGKILL): past its TTL, the next registration expires it."""
        worker = data.draw(st.sampled_from(sorted(self.live)))
        self.raw.zadd(self.keys.key("reg"), {worker: 1}, xx=True)
        self.live.discard(worker)
        # Any beat or registration sweeps stale ones out; here a consumer without a worker
        # identity announcing itself (it registers no routing of its own).
        self.producer.run(ops.register(self.producer.session))

    @precondition(lambda self: bool(self.queues))
    @rule(data=st.data())
    def pop(self, data: st.DataObject) -> None:
        """A pop by a worker; one whose registration lapsed registers again first."""
        worker = data.draw(st.sampled_from(sorted(self.queues)))
        self.live.add(worker)  # a lapsed worker's pop re-registers it
        home, steal = self.allowed(worker)
        ready = {u for u, n in self.ready.items() if n}
        task = self.queues[worker].pop()
        if task is None:
            assert not (ready & (home | steal)), (worker, self.regs[worker], ready)
            return
        assert task.user_id in home | steal, (worker, self.regs[worker], task.user_id)
        if ready & home:
            assert task.user_id in home, "stole while one of its own users had work"
        self.queues[worker].complete(task)
        self.ready[task.user_id] -= 1

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def routing_matches_the_live_registrations(self) -> None:
        k = self.keys
        assert set(self.raw.hkeys(k.key("routes"))) == self.live
        assert set(self.raw.hkeys(k.key("scope"))) == self.live
        named: dict[str, tuple[set[str], set[str]]] = {}
        for w in self.live:
            assigned, steal = self.regs[w]
            for u in assigned:
                named.setdefault(u, (set(), set()))[0].add(w)
            if steal != "*":
                for u in steal:
                    named.setdefault(u, (set(), set()))[1].add(w)
        stored = self.raw.hgetall(k.key("named"))
        assert {
            u: (set(filter(None, a.split(","))), set(filter(None, s.split(","))))
            for u, raw in stored.items()
            for a, s in [raw.split("|")]
        } == named

    @invariant()
    def every_ready_user_is_in_its_pools_ready_set_and_the_index_is_exact(self) -> None:
        k = self.keys
        pools = self.raw.hgetall(k.key("upool"))
        index = dict(self.raw.zrange(k.key("readyidx"), 0, -1, withscores=True))
        for user, n in self.ready.items():
            if n:
                pool = pools.get(user, "_")
                assert self.raw.zscore(k.ready(pool), user) is not None, (user, pool)
        for pool, low in index.items():
            head = self.raw.zrange(k.ready(pool), 0, 0, withscores=True)
            assert head and head[0][1] == low, (pool, head, low)
        for pool in set(pools.values()) | {"_"}:  # every pool with ready entries is indexed
            assert not self.raw.zcard(k.ready(pool)) or pool in index, pool


RoutingMachine.TestCase.settings = settings(
    max_examples=25 * SCALE,
    derandomize=True,  # the same examples every run: CI is reproducible
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoutingStateMachine = RoutingMachine.TestCase
