"""``Admin``: the mutations operators run (requeue, purge, drain, pause, boost). Each
returns what it touched, supports a dry run, writes an audit entry, and is refused in
read-only mode."""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import FairQueueError, InvalidRate, ValidationError
from fairque.core.keys import QueueKeys
from fairque.core.rates import default_burst, parse_rate
from fairque.core.validation import check_priority, check_task_id, check_tenant_id, check_user_id
from fairque.monitoring.config_ops import settings_in_force
from fairque.monitoring.models import AdminResult
from fairque.queue import TaskQueue
from fairque.queue.ops import CommandCall, QueueSession, gather, single
from fairque.queue.routing import SettingsDoc

CHUNK = 500
AUDIT_MAXLEN = 10_000
Progress = Callable[[int, int], None]  # (done, total)


class ReadOnlyError(FairQueueError):
    """A mutation was asked of a read-only Admin (``--read-only``)."""

    refusal = True  # the command line exits with 3


def _quiet(done: int, total: int) -> None:
    """A progress callback that says nothing."""


class Admin:
    """Mutations of one queue. ``read_only=True`` refuses every one of them."""

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        *,
        queue: TaskQueue | None = None,
        read_only: bool = False,
        actor: str | None = None,
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.queue = queue if queue is not None else TaskQueue(self.config)
        self._own_queue = queue is None
        self.read_only = read_only
        self.actor = actor or f"{getpass.getuser()}@{socket.gethostname()}"
        self.queue.open()

    def close(self) -> None:
        if self._own_queue:
            self.queue.close()

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _guard(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"read-only mode: {action} refused")

    def _cmd(self, *args: str | int | float) -> Any:
        return self.queue.run(single(CommandCall(args)))

    def _script(
        self, name: str, *args: str | int | float, session: QueueSession | None = None
    ) -> Any:
        s = session if session is not None else self.queue.session
        return self.queue.run(single(s.call(name, *args)))

    def _everywhere(self, name: str, *args: str | int | float) -> list[Any]:
        """Run a script in every partition at once (ids may be in any of them)."""
        sessions = self.queue.parts.sessions
        return self.queue.run(gather([single(s.call(name, *args)) for s in sessions]))

    def _user_session(self, user: str) -> QueueSession:
        return self.queue.parts.of_user(check_user_id(user))

    def _audit(self, action: str, target: str, count: int, **detail: Any) -> None:
        self._cmd(
            "XADD", self.queue.session.keys.key("audit"), "MAXLEN", "~", AUDIT_MAXLEN, "*",
            "actor", self.actor, "action", action, "target", target, "count", count,
            "detail", json.dumps(detail, default=str),
        )  # fmt: skip

    def _result(
        self, action: str, matched: int, touched: int, dry_run: bool, target: str, **detail: Any
    ) -> AdminResult:
        if not dry_run:
            self._audit(action, target, touched, **detail)
        return AdminResult(
            action=action, matched=matched, touched=touched, dry_run=dry_run, detail=detail
        )

    def _dlq_select(
        self, *, user: str | None = None, error: str | None = None, older_than: float | None = None
    ) -> Iterator[str]:
        """DLQ ids matching every filter given, oldest first (per partition), in pages."""
        cutoff = None
        if older_than is not None:
            sec, usec = self._cmd("TIME")
            cutoff = (int(sec) + int(usec) / 1e6 - older_than) * 1000
        for s in self.queue.parts.sessions:
            yield from self._dlq_select_in(s.keys, user, error, cutoff)

    def _dlq_select_in(
        self, k: QueueKeys, user: str | None, error: str | None, cutoff: float | None
    ) -> Iterator[str]:
        start = 0
        while True:
            ids = self._cmd("ZRANGE", k.key("dlq"), start, start + CHUNK - 1, "WITHSCORES")
            if not ids:
                return
            start += CHUNK
            fields = self.queue.run(
                single([CommandCall(("HMGET", k.task(i), "user", "error")) for i, _ in ids])
            )
            for (task_id, died), (u, err) in zip(ids, fields, strict=True):
                if user is not None and u != user:
                    continue
                if error is not None and error.lower() not in (err or "").lower():
                    continue
                if cutoff is not None and float(died) > cutoff:
                    continue
                yield task_id

    def _targets(
        self,
        task_ids: list[str] | None,
        all_: bool,
        user: str | None,
        error: str | None,
        older_than: float | None = None,
    ) -> list[str]:
        chosen = [
            bool(task_ids),
            all_,
            user is not None or error is not None or older_than is not None,
        ]
        if sum(chosen) != 1:
            raise ValidationError(
                "choose exactly one of: task ids, all, or filters (user / error / age)"
            )
        if task_ids:
            return [check_task_id(t) for t in task_ids]
        if user is not None:
            check_user_id(user)
        return list(self._dlq_select(user=user, error=error, older_than=older_than))

    # -- DLQ ----------------------------------------------------------------------------------

    def requeue(
        self,
        task_ids: list[str] | None = None,
        *,
        all: bool = False,
        user: str | None = None,
        error: str | None = None,
        dry_run: bool = False,
        rate: float | None = None,
        progress: Progress = _quiet,
    ) -> AdminResult:
        """Put dead tasks back to ready (ids kept, attempts reset); ``rate`` paces it (tasks/s)."""
        if not dry_run:
            self._guard("requeue")
        ids = self._targets(task_ids, all, user, error)
        if dry_run:
            in_dlq = self._in_dlq(ids)
            return self._result(
                "requeue", len(in_dlq), 0, True, _describe(task_ids, all, user, error)
            )
        moved = 0
        step = CHUNK if not rate else max(1, min(CHUNK, int(rate)))
        for i in range(0, len(ids), step):
            started = time.monotonic()
            chunk = ids[i : i + step]
            replies = self._everywhere("requeue", *chunk)
            moved += sum(r.count("ok") for r in replies)
            progress(min(i + step, len(ids)), len(ids))
            if rate:
                time.sleep(max(step / rate - (time.monotonic() - started), 0))
        return self._result(
            "requeue", len(ids), moved, False, _describe(task_ids, all, user, error)
        )

    def _in_dlq(self, ids: list[str]) -> list[str]:
        found: set[str] = set()
        for s in self.queue.parts.sessions if ids else []:
            k = s.keys.key("dlq")
            scores = self.queue.run(single([CommandCall(("ZSCORE", k, i)) for i in ids]))
            found |= {i for i, sc in zip(ids, scores, strict=True) if sc is not None}
        return [i for i in ids if i in found]

    def purge(
        self,
        task_ids: list[str] | None = None,
        *,
        all: bool = False,
        user: str | None = None,
        error: str | None = None,
        older_than: float | None = None,
        dry_run: bool = False,
        progress: Progress = _quiet,
    ) -> AdminResult:
        """Delete dead tasks for good (ids, all, or by user / error text / older than s)."""
        if not dry_run:
            self._guard("purge")
        ids = self._targets(task_ids, all, user, error, older_than)
        target = _describe(task_ids, all, user, error) + (
            f" older than {older_than}s" if older_than else ""
        )
        if dry_run:
            return self._result("purge", len(self._in_dlq(ids)), 0, True, target)
        gone = 0
        for i in range(0, len(ids), CHUNK):
            gone += sum(int(n) for n in self._everywhere("purge", *ids[i : i + CHUNK]))
            progress(min(i + CHUNK, len(ids)), len(ids))
        return self._result("purge", len(ids), gone, False, target)

    # -- users --------------------------------------------------------------------------------

    def drain(
        self,
        user: str,
        *,
        priority: int | None = None,
        export: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
        progress: Progress = _quiet,
    ) -> AdminResult:
        """Cancel a user's ready tasks (all, or one priority). With ``export``, every drained
        task is appended to that JSONL file as it is drained, so nothing is lost by accident."""
        session = self._user_session(user)
        priorities = [check_priority(priority)] if priority is not None else [6, 5, 4, 3, 2, 1]
        k = session.keys
        counts = self._cmd("HMGET", k.key("backlog"), *[f"{user}|{p}" for p in priorities])
        matched = sum(int(c or 0) for c in counts)
        target = user if priority is None else f"{user} priority {priority}"
        if dry_run:
            return self._result("drain", matched, 0, True, target)
        self._guard("drain")
        out: IO[str] | None = Path(export).open("a", encoding="utf-8") if export else None  # noqa: SIM115
        drained = 0
        ttl = round(self.config.queue.result_ttl * 1000)
        try:
            while True:
                rows = self._script(
                    "drain", user, ",".join(map(str, priorities)), CHUNK, ttl, session=session
                )
                if not rows:
                    break
                if out is not None:
                    for flat in rows:
                        out.write(
                            json.dumps(_exported(dict(zip(flat[::2], flat[1::2], strict=True))))
                            + "\n"
                        )
                    out.flush()
                drained += len(rows)
                progress(drained, max(matched, drained))
        finally:
            if out is not None:
                os.fsync(out.fileno())
                out.close()
        return self._result(
            "drain", matched, drained, False, target, export=str(export) if export else None
        )

    def pause(self, user: str) -> AdminResult:
        """Take a user out of the round-robin; pushes are still accepted."""
        self._guard("pause")
        changed = int(self._script("user_admin", "pause", user, session=self._user_session(user)))
        return self._result("pause", 1, changed, False, user)

    def resume(self, user: str) -> AdminResult:
        self._guard("resume")
        changed = int(self._script("user_admin", "resume", user, session=self._user_session(user)))
        return self._result("resume", 1, changed, False, user)

    def boost(self, user: str, weight: float, seconds: float) -> AdminResult:
        """Give a user ``weight`` for ``seconds``; the configured weight returns by itself."""
        self._guard("boost")
        if not (weight > 0 and seconds > 0):
            raise ValidationError("boost needs a weight > 0 and a duration > 0 seconds")
        self._script(
            "user_admin", "boost", user, repr(float(weight)), round(seconds * 1000),
            session=self._user_session(user),
        )  # fmt: skip
        until = datetime.now(UTC).timestamp() + seconds
        return self._result("boost", 1, 1, False, user, weight=weight, until=until)

    def apply_settings(self, source: FairQueueConfig, dry_run: bool = False) -> AdminResult:
        """Make the user settings of ``source`` (default weight, per-user weights and caps,
        queue limits) the settings in force, in every partition. ``detail["differences"]``
        lists what changes; a dry run changes nothing (and is allowed read-only)."""
        if not dry_run:
            self._guard("config apply")
        doc = SettingsDoc.of(source)
        fp, current = self.queue.run(settings_in_force(self.queue.session))
        if current is None:
            differences = ["(no settings in force yet: every user at the defaults)"]
        else:
            differences = [] if fp == doc.fingerprint else doc.diff(current)
        changed = 0
        if not dry_run and differences:
            replies = self._everywhere("settings_apply", doc.fingerprint, doc.to_json(), self.actor)
            changed = sum(int(r) for r in replies)
        return self._result(
            "config_apply", len(differences), changed, dry_run, doc.fingerprint,
            differences=differences, settings_fingerprint=doc.fingerprint,
        )  # fmt: skip

    def set_rate(
        self,
        name: str,
        rate: str | None,
        burst: int | None = None,
        seconds: float | None = None,
        *,
        tenant: bool = False,
    ) -> AdminResult:
        """Override the rate limit of a user (or, with ``tenant``, of a tenant) at run time:
        ``rate`` as ``"N/s"``, ``"N/m"`` or ``"N/h"`` (None: no limit while the override
        lasts), ``burst`` tokens (default a tenth of a second's worth), for ``seconds`` (None:
        until :meth:`unset_rate`). The configured limit returns when it ends. Audited.

        Raises :class:`~fairque.core.exceptions.InvalidRate` for a bad rate or burst, before
        anything is written."""
        self._guard("set rate")
        key = self._limit_key(name, tenant)
        per_second = parse_rate(rate) if rate is not None else None
        if burst is not None and (
            isinstance(burst, bool) or not isinstance(burst, int) or burst < 1
        ):
            raise InvalidRate(f"burst must be a whole number >= 1, got {burst!r}")
        if seconds is not None and not seconds > 0:
            raise InvalidRate(f"the override's duration must be > 0 seconds, got {seconds!r}")
        tokens = burst or (default_burst(per_second) if per_second else 1)
        args: list[str | int | float] = ["" if per_second is None else repr(per_second), tokens,
                "" if seconds is None else round(seconds * 1000)]  # fmt: skip
        self._in_scope("rate", key, tenant, *args)
        return self._result("set_rate", 1, 1, False, key, rate=rate, burst=tokens, seconds=seconds)

    def unset_rate(self, name: str, *, tenant: bool = False) -> AdminResult:
        """End a runtime rate override: the configured limit (if any) is back in force."""
        self._guard("unset rate")
        key = self._limit_key(name, tenant)
        changed = sum(int(r) for r in self._in_scope("unrate", key, tenant))
        return self._result("unset_rate", 1, min(changed, 1), False, key)

    @staticmethod
    def _limit_key(name: str, tenant: bool) -> str:
        return "+" + check_tenant_id(name) if tenant else check_user_id(name)

    def _in_scope(self, op: str, key: str, tenant: bool, *args: str | int | float) -> list[Any]:
        """A user's limit lives in its partition; a tenant's users may be in any."""
        if tenant:
            return self._everywhere("user_admin", op, key, *args)
        return [self._script("user_admin", op, key, *args, session=self._user_session(key))]

    def unboost(self, user: str) -> AdminResult:
        self._guard("unboost")
        changed = int(self._script("user_admin", "unboost", user, session=self._user_session(user)))
        return self._result("unboost", 1, changed, False, user)


def _describe(task_ids: list[str] | None, all_: bool, user: str | None, error: str | None) -> str:
    if task_ids:
        return ",".join(task_ids[:10]) + (f" (+{len(task_ids) - 10})" if len(task_ids) > 10 else "")
    if all_:
        return "all"
    parts = [f"user={user}" if user else "", f"error~{error}" if error else ""]
    return " ".join(p for p in parts if p)


def _exported(h: dict[str, str]) -> dict[str, Any]:
    """A drained task as one JSONL record (enough to push it again)."""
    try:
        payload: Any = json.loads(h.get("payload", "null"))
    except ValueError:
        payload = h.get("payload")
    return {
        "task_id": h.get("id"),
        "user_id": h.get("user"),
        "priority": int(h.get("pri", 3)),
        "payload": payload,
        "handler": h.get("handler") or None,
        "max_attempts": int(h["max_att"]) if h.get("max_att") else None,
        "created_ms": int(h["created"]) if h.get("created") else None,
    }
