"""``TaskScheduler``: schedules stored in the queue, fired by whichever scheduler process
holds the leader lock. Each fire time becomes a task whose id is derived from the schedule
name and the fire time, so even two schedulers that both believe they lead enqueue it once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import Any

from fairque.core.config import FairQueueConfig
from fairque.core.cron import due_fire_times, latest_fire, next_runs
from fairque.core.exceptions import FairQueueError, ScheduleNotFound, ServerUnreachable
from fairque.core.models import Task
from fairque.core.schedule import MissedRuns, ScheduledTask
from fairque.queue import TaskQueue
from fairque.queue.ops import CommandCall, single
from fairque.queue.queue_user import QueueUser
from fairque.scheduler import schedule_ops
from fairque.scheduler.schedule_ops import (
    SOURCE_API,
    SOURCE_CONFIG,
    ScheduleInfo,
    from_ms,
    load_schedule,
)

log = logging.getLogger("fairque.scheduler")


def _ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


class TaskScheduler(QueueUser):
    """Manage schedules (add, update, remove, list, enable, disable) and fire them.

    Any number of scheduler processes may run: the one holding the leader lock fires, and a
    fire time becomes a task whose id is derived from the schedule and the time, so it is
    enqueued once even if two believe they lead.

    Args:
        config: the settings (``FairQueueConfig.load()`` when omitted); ``[scheduler]``
            holds the lock TTL, the tick and the schedules kept in the file.
        queue: a queue client to use (the caller closes it); one is made otherwise.

    Raises (any method): ``ScheduleNotFound`` for an unknown name, ``InvalidSchedule`` /
    ``InvalidCronExpression`` / ``InvalidTimezone`` for a bad schedule, ``ServerUnreachable``.
    """

    def __init__(
        self, config: FairQueueConfig | None = None, *, queue: TaskQueue | None = None
    ) -> None:
        super().__init__(config, queue=queue)
        self.token = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.is_leader = False
        self._stopping = False
        keys = self.queue.session.keys
        self._defs = keys.key("sched_defs")
        self._last = keys.key("sched_last")

    # -- storage ------------------------------------------------------------------------------

    def _cmd(self, *args: str | int | float) -> Any:
        return self.queue.run(single(CommandCall(args)))

    def server_now(self) -> datetime:
        """The server's clock: every scheduler process agrees on it."""
        sec, usec = self._cmd("TIME")
        return datetime.fromtimestamp(int(sec) + int(usec) / 1e6, UTC)

    def _store(self, st: ScheduledTask, source: str) -> None:
        doc = {"schedule": st.model_dump(mode="json"), "source": source}
        self._cmd("HSET", self._defs, st.name, json.dumps(doc))

    def add(
        self, schedule: ScheduledTask, *, replace: bool = False, source: str = SOURCE_API
    ) -> bool:
        """Store a schedule; returns False if one with that name existed (and ``replace``
        was not given: then nothing changes). A new schedule fires from now on."""
        self.queue.open()
        exists = bool(self._cmd("HEXISTS", self._defs, schedule.name))
        if exists and not replace:
            return False
        self._store(schedule, source)
        if not exists:
            self._cmd("HSET", self._last, schedule.name, _ms(self.server_now()))
        return not exists

    def update(self, schedule: ScheduledTask) -> None:
        """Replace an existing schedule (its last run is kept)."""
        if self.get(schedule.name) is None:
            raise ScheduleNotFound(f"no schedule named {schedule.name!r}")
        self.add(schedule, replace=True)

    def remove(self, name: str) -> bool:
        removed = bool(self._cmd("HDEL", self._defs, name))
        self._cmd("HDEL", self._last, name)
        return removed

    def get(self, name: str) -> ScheduledTask | None:
        raw = self._cmd("HGET", self._defs, name)
        return None if raw is None else load_schedule(raw)[0]

    def set_enabled(self, name: str, enabled: bool) -> None:
        raw = self._cmd("HGET", self._defs, name)
        if raw is None:
            raise ScheduleNotFound(f"no schedule named {name!r}")
        st, source = load_schedule(raw)
        self._store(st.model_copy(update={"enabled": enabled}), source)

    def schedules(self) -> list[ScheduleInfo]:
        """Every schedule with its last and next run."""
        return self.queue.run(schedule_ops.schedules(self.queue.session))

    def next_runs(self, name: str, count: int = 5) -> list[datetime]:
        st = self.get(name)
        if st is None:
            raise ScheduleNotFound(f"no schedule named {name!r}")
        return next_runs(st.cron, st.timezone, self.server_now(), count)

    def sync_from_config(self) -> None:
        """Add or update the schedules declared in the config; drop config-declared ones that
        are no longer there (schedules added through the API or CLI are left alone)."""
        declared = {st.name: st for st in self.config.scheduler.schedules}
        for st in declared.values():
            self.add(st, replace=True, source=SOURCE_CONFIG)
        defs: dict[str, str] = self._cmd("HGETALL", self._defs)
        for name, raw in defs.items():
            if name not in declared and load_schedule(raw)[1] == SOURCE_CONFIG:
                self.remove(name)

    # -- firing -------------------------------------------------------------------------------

    def due(
        self, st: ScheduledTask, last: datetime, now: datetime
    ) -> tuple[list[datetime], datetime | None]:
        """Fire times to enqueue now and the newest fire time reached (to record)."""
        newest = latest_fire(st.cron, st.timezone, now)
        reached = newest if newest > last else None
        if st.missed == MissedRuns.CATCH_UP:
            times, dropped = due_fire_times(st.cron, st.timezone, last, now, st.catch_up_max)
        else:
            start = max(last, from_ms(_ms(now) - round(st.misfire_grace_seconds * 1000)))
            times, dropped = due_fire_times(st.cron, st.timezone, start, now, 10_000)
        if dropped:
            log.warning("schedule %s: %d missed fire times skipped", st.name, dropped)
        return times, reached

    def tick(self) -> list[str]:
        """Enqueue every due fire time of every enabled schedule; returns the ids of the tasks
        this call created (a fire time another scheduler already pushed is not counted)."""
        now = self.server_now()
        defs: dict[str, str] = self._cmd("HGETALL", self._defs)
        lasts: dict[str, str] = self._cmd("HGETALL", self._last)
        tasks: list[Task] = []
        advance: list[str | int] = []
        for name, raw in defs.items():
            st, _ = load_schedule(raw)
            if not st.enabled:
                continue
            last = from_ms(lasts[name]) if name in lasts else now
            times, reached = self.due(st, last, now)
            tasks += [
                Task.create(
                    st.user_id,
                    st.priority,
                    st.payload,
                    task_id=st.task_id(t),
                    handler=st.handler,
                    max_attempts=st.max_attempts,
                )
                for t in times
            ]
            if reached is not None:
                advance += [name, _ms(reached)]
        # Idempotent: a fire time pushed twice exists once.
        created = [r.task_id for r in self.queue.push_batch(tasks) if r.created] if tasks else []
        if advance:
            self.queue.run(single(self.queue.session.call("sched_advance", *advance)))
        return created

    # -- leading ------------------------------------------------------------------------------

    def hold_lock(self) -> bool:
        """Take or renew the leader lock; True while this scheduler leads."""
        ttl = round(self.config.scheduler.lock_ttl_seconds * 1000)
        call = self.queue.session.call("sched_lock", "hold", self.token, ttl)
        self.is_leader = bool(self.queue.run(single(call)))
        return self.is_leader

    def release_lock(self) -> None:
        self.queue.run(single(self.queue.session.call("sched_lock", "release", self.token, 0)))
        self.is_leader = False

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from signal handlers)."""
        self._stopping = True

    def run(self) -> None:
        """Lead or stand by until :meth:`stop`: the leader fires schedules every tick. A
        server that is not up yet is waited for (schedulers may start first)."""
        tries = 0
        while True:
            try:
                self.queue.open()
                self.sync_from_config()
                break
            except ServerUnreachable as exc:
                if self._stopping:
                    return
                tries += 1
                delay = min(0.1 * 2 ** (tries - 1), 2.0)
                log.warning("scheduler %s: %s; trying again in %.1f s", self.token, exc, delay)
                deadline = time.monotonic() + delay
                while not self._stopping and time.monotonic() < deadline:
                    time.sleep(0.05)
        tick = self.config.scheduler.tick_seconds
        log.info("scheduler %s started", self.token)
        try:
            while not self._stopping:
                started = time.monotonic()
                try:
                    was = self.is_leader
                    if self.hold_lock():
                        if not was:
                            log.info("scheduler %s leads", self.token)
                        self.tick()
                except FairQueueError as exc:
                    log.warning("scheduler %s: %s", self.token, exc)
                    self.is_leader = False
                while not self._stopping and time.monotonic() - started < tick:
                    time.sleep(min(0.05, tick))
        finally:
            with contextlib.suppress(FairQueueError):
                self.release_lock()
            if self._own_queue:
                self.queue.close()
            log.info("scheduler %s stopped", self.token)
