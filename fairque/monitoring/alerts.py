"""Alert rules (docs/operations.md), evaluated from Inspector snapshots against the
``[alerts]`` thresholds."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime

from fairque.core.config import AlertsConfig
from fairque.monitoring.models import Alert, ConfigState, Overview, UserRow, WorkerInfo
from fairque.queue.routing import describe_diff

RULES = (
    "dlq_size",
    "dlq_growth",
    "backlog",
    "oldest_age",
    "starvation",
    "noisy_neighbour",
    "worker_heartbeat",
    "failure_rate",
    "server_memory",
    "queue_unhealthy",
    "config_conflict",
    "unserved",
)


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    subject: str
    message: str
    value: float


@dataclass
class AlertInputs:
    """Everything the rules look at, gathered by the Inspector in a few round trips."""

    overview: Overview
    rows: list[UserRow]  # the users with the most backlog
    served_in_starvation_window: dict[str, int]
    pushed_5m: dict[str, int]  # the candidates' pushes (every pusher's when the two below are None)
    workers: list[WorkerInfo]
    config: ConfigState | None = None
    unserved: dict[str, int] = field(default_factory=dict)  # user -> ready, no live worker
    # Every push of the 5 minutes, and how many users pushed (the most in any one minute: a
    # lower bound of the distinct pushers, so the fair share it gives errs high and the rule
    # errs quiet). None: both are taken from pushed_5m.
    pushed_total: int | None = None
    pushers: int | None = None


def _last(overview: Overview, minutes: int, event: str) -> int:
    return sum(getattr(p, event) for p in overview.throughput[-minutes:])


def evaluate(cfg: AlertsConfig, x: AlertInputs) -> list[Finding]:
    """Every rule that fires now."""
    out: list[Finding] = []
    t = x.overview.totals
    if t.dead >= cfg.dlq_size:
        sev = "critical" if t.dead >= cfg.dlq_size * 10 else "warning"
        out.append(
            Finding(
                "dlq_size",
                sev,
                "queue",
                f"{t.dead} tasks in the DLQ (threshold {cfg.dlq_size})",
                t.dead,
            )
        )
    grown = _last(x.overview, 5, "dead")
    if grown >= cfg.dlq_growth_5m:
        out.append(
            Finding(
                "dlq_growth",
                "warning",
                "queue",
                f"{grown} tasks buried in the last 5 minutes",
                grown,
            )
        )
    for r in x.rows:
        if r.ready >= cfg.backlog:
            out.append(
                Finding(
                    "backlog",
                    "warning",
                    r.user_id,
                    f"{r.user_id} has {r.ready} ready tasks",
                    r.ready,
                )
            )
        age = r.oldest_age_seconds or 0
        if age >= cfg.oldest_age_seconds:
            out.append(
                Finding(
                    "oldest_age",
                    "warning",
                    r.user_id,
                    f"{r.user_id}'s oldest task waits {age:.0f} s",
                    age,
                )
            )
        if (
            r.ready
            and not r.paused
            and not r.capped
            and not r.throttled_until  # its rate limit holds it: by design, not starved
            and age >= cfg.starvation_seconds
            and x.served_in_starvation_window.get(r.user_id, 0) == 0
        ):
            out.append(
                Finding(
                    "starvation",
                    "critical",
                    r.user_id,
                    f"{r.user_id} has work but was not served for {cfg.starvation_seconds:.0f} s",
                    age,
                )
            )
    total_pushed = sum(x.pushed_5m.values()) if x.pushed_total is None else x.pushed_total
    pushers = len(x.pushed_5m) if x.pushers is None else x.pushers
    if x.pushed_5m and total_pushed and pushers:
        fair = 1 / pushers
        for user, n in x.pushed_5m.items():
            share = n / total_pushed
            if pushers > 1 and n >= cfg.noisy_min_pushes_5m and share >= cfg.noisy_factor * fair:
                out.append(
                    Finding(
                        "noisy_neighbour",
                        "warning",
                        user,
                        f"{user} pushed {share:.0%} of all tasks in 5 minutes ({n}); "
                        f"fair share {fair:.0%}",
                        share,
                    )
                )
    for w in x.workers:
        if w.stale:
            out.append(
                Finding(
                    "worker_heartbeat",
                    "warning",
                    w.worker_id,
                    f"worker {w.worker_id} stopped beating (last {w.last_beat})",
                    1,
                )
            )
    failed, done = _last(x.overview, 5, "failed"), _last(x.overview, 5, "completed")
    if failed + done >= cfg.failure_min_events_5m and failed / (failed + done) >= cfg.failure_rate:
        rate = failed / (failed + done)
        out.append(
            Finding(
                "failure_rate",
                "warning",
                "queue",
                f"{rate:.0%} of attempts failed in 5 minutes",
                rate,
            )
        )
    srv = x.overview.server
    if srv.maxmemory > 0 and srv.used_memory / srv.maxmemory >= cfg.memory_ratio:
        ratio = srv.used_memory / srv.maxmemory
        out.append(
            Finding(
                "server_memory",
                "critical",
                "server",
                f"server memory at {ratio:.0%} of maxmemory",
                ratio,
            )
        )
    corrupt = x.overview.corrupt_last_hour
    if corrupt:
        msg = f"queue unhealthy: {corrupt} corrupt records met in the last hour (see the DLQ)"
        out.append(Finding("queue_unhealthy", "critical", "queue", msg, corrupt))
    for user, why in x.overview.quarantined.items():
        msg = f"user {user} quarantined (paused): {why}; repair the key, then resume the user"
        out.append(Finding("queue_unhealthy", "critical", user, msg, 1))
    out += _config_conflicts(x.config)
    out += _unserved(x.unserved, bool(x.workers))
    return out


def _unserved(users: dict[str, int], any_worker: bool) -> list[Finding]:
    """Users with ready work that no live worker serves: nothing will run until one does."""
    why = "no live worker's scope covers it" if any_worker else "no worker is running"
    return [
        Finding(
            "unserved",
            "critical",
            user,
            f"{user} has {n} ready task(s) and {why}: start a worker that serves it "
            "(`fairque worker` serves everyone)",
            n,
        )
        for user, n in sorted(users.items(), key=lambda kv: -kv[1])
    ]


def _config_conflicts(state: ConfigState | None) -> list[Finding]:
    """A live worker whose configuration's user settings differ from the ones in force."""
    if state is None:
        return []
    writer = f"{state.written_by} ({state.written_how})" if state.written_by else "nobody"
    return [
        Finding(
            "config_conflict",
            "warning",
            c.worker_id,
            f"worker {c.worker_id}'s configuration differs from the user settings in force "
            f"(written by {writer}): {describe_diff(c.differences)}; the settings in force "
            "stay; `fairque config apply FILE` chooses",
            len(c.differences),
        )
        for c in state.conflicts
    ]


@dataclass
class AlertTracker:
    """Remembers since when each alert fires; forgets it when it clears."""

    first_seen: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # threads may share one

    def update(self, findings: list[Finding], now: datetime) -> list[Alert]:
        live = {(f.rule, f.subject): f for f in findings}
        with self._lock:
            for key in list(self.first_seen):
                if key not in live:
                    del self.first_seen[key]
            since_of = {key: self.first_seen.setdefault(key, now) for key in live}
        alerts = []
        for key, f in live.items():
            since = since_of[key]
            value = f.value if math.isfinite(f.value) else 0.0
            alerts.append(
                Alert(
                    rule=f.rule,
                    severity=f.severity,
                    subject=f.subject,
                    message=f.message,
                    since=since,
                    value=value,
                )
            )
        order = {"critical": 0, "warning": 1}
        return sorted(alerts, key=lambda a: (order.get(a.severity, 2), a.rule, a.subject))
