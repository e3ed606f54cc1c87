"""``AsyncAdmin``: the changes operators make (requeue, purge, drain, pause, boost, rate
overrides, settings). Each returns what it touched, supports a dry run where it makes sense,
writes an audit entry, and is refused in read-only mode.

What it reads and writes besides its scripts is in :mod:`admin_ops` (sans-IO);
``async_admin.py`` is written by hand and ``admin.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

import asyncio  # unasync: remove
import getpass
import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import ValidationError
from fairque.core.models import CancelOutcome
from fairque.core.validation import check_priority, check_task_id, check_user_id
from fairque.monitoring import activity_ops, admin_ops
from fairque.monitoring.admin_ops import CHUNK, ReadOnlyError, describe
from fairque.monitoring.config_ops import settings_in_force
from fairque.monitoring.models import AdminResult
from fairque.queue import AsyncTaskQueue, control
from fairque.queue.async_queue_user import AsyncQueueUser
from fairque.queue.ops import Op, QueueSession, gather, single
from fairque.queue.routing import SettingsDoc

__all__ = ["AsyncAdmin", "Progress", "ReadOnlyError"]

Progress = Callable[[int, int], None]  # (done, total)


def _quiet(done: int, total: int) -> None:
    """A progress callback that says nothing."""


class AsyncAdmin(AsyncQueueUser):
    """Changes to one queue, each audited.

    Args:
        config: the queue's settings (``FairQueueConfig.load()`` when omitted).
        queue: a queue client to use (the caller closes it); one is made otherwise.
        read_only: refuse every change (``ReadOnlyError``); dry runs still work.
        actor: who the audit log names (``user@host`` by default).

    Raises (any method): ``ReadOnlyError``; ``ValidationError`` subclasses for bad input,
    before anything is written; ``ServerUnreachable`` when the server cannot answer.
    """

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        *,
        queue: AsyncTaskQueue | None = None,
        read_only: bool = False,
        actor: str | None = None,
    ) -> None:
        super().__init__(config, queue=queue)
        self.read_only = read_only
        self.actor = actor or f"{getpass.getuser()}@{socket.gethostname()}"
        # unasync: sync-only self.queue.open()  # the sync form checks the server at once

    # -- plumbing -----------------------------------------------------------------------------

    def _guard(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only mode: {action} refused")

    async def _script(self, name: str, *args: str | int | float, session: QueueSession) -> Any:
        return await self.queue.run(single(session.call(name, *args)))

    async def _each(self, make: Callable[[QueueSession], Op[Any]]) -> list[Any]:
        """One operation in every partition at once (ids may be in any of them)."""
        return await self.queue.run(gather([make(s) for s in self.queue.parts.sessions]))

    async def _everywhere(self, name: str, *args: str | int | float) -> list[Any]:
        return await self._each(lambda s: single(s.call(name, *args)))

    def _user_session(self, user: str) -> QueueSession:
        return self.queue.parts.of_user(check_user_id(user))

    async def _result(
        self, action: str, matched: int, touched: int, dry_run: bool, target: str, **detail: Any
    ) -> AdminResult:
        if not dry_run:
            s = self.queue.session
            call = admin_ops.audit_call(s, self.actor, action, target, touched, detail)
            await self.queue.run(single(call))
        return AdminResult(
            action=action, matched=matched, touched=touched, dry_run=dry_run, detail=detail
        )

    async def _targets(
        self,
        task_ids: list[str] | None,
        all_: bool,
        user: str | None,
        error: str | None,
        older_than: float | None = None,
    ) -> list[str]:
        """The DLQ ids a selection names: the ids given, or those matching the filters."""
        given = admin_ops.targets(task_ids, all_, user, error, older_than is not None)
        if given is not None:
            return given
        cutoff = None
        if older_than is not None:
            now = await self.queue.run(activity_ops.server_time(self.queue.session))
            cutoff = (now.timestamp() - older_than) * 1000
        found = await self._each(lambda s: admin_ops.dlq_select(s, user, error, cutoff))
        return [task_id for ids in found for task_id in ids]

    async def _in_dlq(self, ids: list[str]) -> list[str]:
        found: set[str] = set().union(*await self._each(lambda s: admin_ops.in_dlq(s, ids)))
        return [i for i in ids if i in found]

    # -- DLQ ----------------------------------------------------------------------------------

    async def requeue(
        self, task_ids: list[str] | None = None, *, all: bool = False, user: str | None = None,
        error: str | None = None, dry_run: bool = False, rate: float | None = None,
        progress: Progress = _quiet,
    ) -> AdminResult:  # fmt: skip
        """Put dead tasks back to ready (ids kept, attempts reset).

        Args:
            task_ids, all, user, error: the selection (exactly one of ids, ``all``, filters:
                ``user`` and/or ``error`` text, case-insensitive).
            dry_run: count what would move; change nothing.
            rate: pace the requeue (tasks per second), so a flood does not return at once.
            progress: called with (done, total) after each chunk.
        """
        if not dry_run:
            self._guard("requeue")
        ids = await self._targets(task_ids, all, user, error)
        target = describe(task_ids, all, user, error)
        if dry_run:
            return await self._result("requeue", len(await self._in_dlq(ids)), 0, True, target)
        moved = 0
        step = CHUNK if not rate else max(1, min(CHUNK, int(rate)))
        for i in range(0, len(ids), step):
            started = time.monotonic()
            replies = await self._everywhere("requeue", *ids[i : i + step])
            moved += sum(r.count("ok") for r in replies)
            progress(min(i + step, len(ids)), len(ids))
            if rate:
                await asyncio.sleep(max(step / rate - (time.monotonic() - started), 0))
        return await self._result("requeue", len(ids), moved, False, target)

    async def retry_now(self, task_ids: Sequence[str]) -> AdminResult:
        """Make delayed tasks due now: a retry waiting out its backoff, or a push with a
        delay (the next pop runs them; an idle worker is woken). ``matched``: the tasks
        found; ``detail``: each id's outcome (``ok``, or its state when not delayed)."""
        self._guard("retry_now")
        ids = [check_task_id(t) for t in task_ids]
        replies = await self._everywhere("retry_now", *ids) if ids else []
        outcome = {
            task_id: next((str(r[i]) for r in replies if r[i] != "missing"), "missing")
            for i, task_id in enumerate(ids)
        }
        found = sum(1 for o in outcome.values() if o != "missing")
        moved = sum(1 for o in outcome.values() if o == "ok")
        target = ids[0] if len(ids) == 1 else f"{len(ids)} tasks"
        return await self._result("retry_now", found, moved, False, target, **outcome)

    async def purge(
        self, task_ids: list[str] | None = None, *, all: bool = False, user: str | None = None,
        error: str | None = None, older_than: float | None = None, dry_run: bool = False,
        progress: Progress = _quiet,
    ) -> AdminResult:  # fmt: skip
        """Delete dead tasks for good: by ids, all, or by user / error text / older than
        ``older_than`` seconds (same selection rules as :meth:`requeue`)."""
        if not dry_run:
            self._guard("purge")
        ids = await self._targets(task_ids, all, user, error, older_than)
        target = describe(task_ids, all, user, error) + (
            f" older than {older_than}s" if older_than else ""
        )
        if dry_run:
            return await self._result("purge", len(await self._in_dlq(ids)), 0, True, target)
        gone = 0
        for i in range(0, len(ids), CHUNK):
            gone += sum(int(n) for n in await self._everywhere("purge", *ids[i : i + CHUNK]))
            progress(min(i + CHUNK, len(ids)), len(ids))
        return await self._result("purge", len(ids), gone, False, target)

    # -- users --------------------------------------------------------------------------------

    async def drain(
        self,
        user: str,
        *,
        priority: int | None = None,
        export: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
        progress: Progress = _quiet,
    ) -> AdminResult:
        """Cancel a user's ready tasks (all, or one ``priority``). With ``export``, every
        drained task is appended to that JSONL file as it is drained, so nothing is lost by
        accident."""
        session = self._user_session(user)
        priorities = [check_priority(priority)] if priority is not None else [6, 5, 4, 3, 2, 1]
        matched = await self.queue.run(admin_ops.backlog(session, user, priorities))
        target = user if priority is None else f"{user} priority {priority}"
        if dry_run:
            return await self._result("drain", matched, 0, True, target)
        self._guard("drain")
        out: IO[str] | None = Path(export).open("a", encoding="utf-8") if export else None  # noqa: SIM115
        drained = 0
        ttl = round(self.config.queue.result_ttl * 1000)
        wanted = ",".join(map(str, priorities))
        try:
            while rows := await self._script("drain", user, wanted, CHUNK, ttl, session=session):
                if out is not None:
                    out.writelines(admin_ops.exported(flat) for flat in rows)
                    out.flush()
                drained += len(rows)
                progress(drained, max(matched, drained))
        finally:
            if out is not None:
                os.fsync(out.fileno())
                out.close()
        exported_to = str(export) if export else None
        return await self._result("drain", matched, drained, False, target, export=exported_to)

    async def cancel(self, task_ids: Sequence[str]) -> AdminResult:
        """Cancel tasks by id, whatever their state (``AsyncTaskQueue.cancel``); each cancel
        is audited by the script that makes it. ``matched``: the tasks found."""
        self._guard("cancel")
        ttl = round(self.config.queue.result_ttl * 1000)
        results = await self.queue.run(
            control.cancel(self.queue.parts, list(task_ids), self.actor, ttl)
        )
        return AdminResult(
            action="cancel",
            matched=sum(1 for r in results if r.outcome != CancelOutcome.NOT_FOUND),
            touched=sum(1 for r in results if r.changed),
            dry_run=False,
            detail={r.task_id: str(r.outcome) for r in results},
        )

    async def cancel_user(
        self,
        user: str,
        states: tuple[str, ...] = ("ready", "delayed", "leased"),
        *,
        dry_run: bool = False,
        progress: Progress = _quiet,
    ) -> AdminResult:
        """Cancel a user's tasks in ``states``: ready ones (as drain does), delayed ones, and
        leased ones (each running task's worker is told; it ends canceled). Each task's
        cancel is atomic and audited; ended tasks are left as they are."""
        unknown = set(states) - {"ready", "delayed", "leased"}
        if unknown or not states:
            raise ValidationError(f"states to cancel: ready, delayed or leased, not {unknown}")
        session = self._user_session(user)
        ready = 0
        if "ready" in states:
            ready = await self.queue.run(admin_ops.backlog(session, user, [6, 5, 4, 3, 2, 1]))
        ids: list[str] = []
        for state in ("delayed", "leased"):
            if state in states:
                ids += await self.queue.run(admin_ops.user_tasks_in(session, user, state))
        matched = ready + len(ids)
        target = f"{user} ({', '.join(states)})"
        if dry_run or matched == 0:
            return await self._result("cancel", matched, 0, True, target)
        self._guard("cancel")
        touched = 0
        if ready:
            drained = await self.drain(user, progress=progress)
            touched += drained.touched
        ttl = round(self.config.queue.result_ttl * 1000)
        for at in range(0, len(ids), CHUNK):
            chunk = ids[at : at + CHUNK]
            answers = await self.queue.run(control.cancel_in(session, chunk, self.actor, ttl))
            touched += sum(1 for a in answers if a in ("ready", "delayed", "leased"))
            progress(touched, matched)
        return await self._result("cancel", matched, touched, False, target)

    async def _user_admin(self, action: str, user: str, *args: str | int | float) -> int:
        self._guard(action)
        reply = await self._script(
            "user_admin", action, user, *args, session=self._user_session(user)
        )
        return int(reply)

    async def pause(self, user: str) -> AdminResult:
        """Take a user out of the round-robin; pushes are still accepted."""
        changed = await self._user_admin("pause", user)
        return await self._result("pause", 1, changed, False, user)

    async def resume(self, user: str) -> AdminResult:
        """Put a paused user back in the round-robin."""
        changed = await self._user_admin("resume", user)
        return await self._result("resume", 1, changed, False, user)

    async def boost(self, user: str, weight: float, seconds: float) -> AdminResult:
        """Give a user ``weight`` for ``seconds``; the configured weight returns by itself."""
        if not (weight > 0 and seconds > 0):
            raise ValidationError("boost needs a weight > 0 and a duration > 0 seconds")
        await self._user_admin("boost", user, repr(float(weight)), round(seconds * 1000))
        until = datetime.now(UTC).timestamp() + seconds
        return await self._result("boost", 1, 1, False, user, weight=weight, until=until)

    async def unboost(self, user: str) -> AdminResult:
        """End a boost early."""
        changed = await self._user_admin("unboost", user)
        return await self._result("unboost", 1, changed, False, user)

    async def apply_settings(self, source: FairQueueConfig, dry_run: bool = False) -> AdminResult:
        """Make the user settings of ``source`` (default weight, per-user weights and caps,
        queue limits) the settings in force, in every partition. ``detail["differences"]``
        lists what changes; a dry run changes nothing (and is allowed read-only)."""
        if not dry_run:
            self._guard("config apply")
        doc = SettingsDoc.of(source)
        fp, current = await self.queue.run(settings_in_force(self.queue.session))
        if current is None:
            differences = ["(no settings in force yet: every user at the defaults)"]
        else:
            differences = [] if fp == doc.fingerprint else doc.diff(current)
        changed = 0
        if not dry_run and differences:
            replies = await self._everywhere(
                "settings_apply", doc.fingerprint, doc.to_json(), self.actor
            )
            changed = sum(int(r) for r in replies)
        return await self._result(
            "config_apply", len(differences), changed, dry_run, doc.fingerprint,
            differences=differences, settings_fingerprint=doc.fingerprint,
        )  # fmt: skip

    async def set_rate(
        self,
        name: str,
        rate: str | None,
        burst: int | None = None,
        seconds: float | None = None,
        *,
        tenant: bool = False,
    ) -> AdminResult:
        """Override the rate limit of a user (or, with ``tenant``, of a tenant) at run time.

        Args:
            rate: ``"N/s"``, ``"N/m"`` or ``"N/h"``; None: no limit while the override lasts.
            burst: tokens (default a tenth of a second's worth).
            seconds: how long the override lasts (None: until :meth:`unset_rate`); the
                configured limit returns when it ends.

        Raises:
            InvalidRate: a bad rate, burst or duration, before anything is written.
        """
        self._guard("set rate")
        key = admin_ops.limit_key(name, tenant)
        args, tokens = admin_ops.rate_args(rate, burst, seconds)
        await self._in_scope("rate", key, tenant, *args)
        detail = {"rate": rate, "burst": tokens, "seconds": seconds}
        return await self._result("set_rate", 1, 1, False, key, **detail)

    async def unset_rate(self, name: str, *, tenant: bool = False) -> AdminResult:
        """End a runtime rate override: the configured limit (if any) is back in force."""
        self._guard("unset rate")
        key = admin_ops.limit_key(name, tenant)
        changed = sum(int(r) for r in await self._in_scope("unrate", key, tenant))
        return await self._result("unset_rate", 1, min(changed, 1), False, key)

    async def _in_scope(
        self, op: str, key: str, tenant: bool, *args: str | int | float
    ) -> list[Any]:
        """A user's limit lives in its partition; a tenant's users may be in any."""
        if tenant:
            return await self._everywhere("user_admin", op, key, *args)
        session = self._user_session(key)
        return [await self._script("user_admin", op, key, *args, session=session)]
