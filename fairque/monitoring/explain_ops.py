"""``explain``: where a task is and, for a ready one, what runs before it, what it will be
charged, and which limit (pause, cap, rate limit) holds it."""

from __future__ import annotations

from typing import Any

from fairque.core.models import TaskInfo, TaskState
from fairque.monitoring.models import Explanation
from fairque.monitoring.read_helpers import SHARE_WINDOW, _c, _ts, server_now
from fairque.monitoring.user_ops import _share_context
from fairque.queue.ops import Op, QueueSession
from fairque.queue.reads import get_task, get_tasks

# how a parent's state reads in a blocked task's explanation
_PARENT_STATE = {"leased": "running", "blocked": "itself blocked", "ready": "ready",
                 "delayed": "delayed", "completed": "completed", "dead": "dead",
                 "canceled": "canceled"}  # fmt: skip


def explain(s: QueueSession, task_id: str) -> Op[Explanation | None]:
    """Where a task is, and for a ready one, how much runs before it and what blocks it."""
    info = yield from get_task(s, task_id)
    if info is None:
        return None
    state = str(info.state)
    base: dict[str, Any] = {
        "task_id": task_id,
        "state": state,
        "user_id": info.user_id,
        "priority": info.priority,
        "error": info.error,
    }
    if info.parents or info.dependents:  # where it stands in its dependency graph
        base.update((yield from _neighbours(s, info)))
    if state == TaskState.LEASED:
        canceling = (
            f"; its cancel was asked by {info.canceled_by} at {info.canceled_at}: it ends "
            "canceled when its worker stops it (or its lease expires)"
            if info.cancel_requested
            else ""
        )
        done = f" ({info.progress:.0%} done)" if info.progress is not None else ""
        return Explanation(
            **base,
            summary=f"running on worker {info.worker_id}{done}, lease until "
            f"{info.lease_deadline}{canceling}",
            worker_id=info.worker_id,
            lease_deadline=info.lease_deadline,
        )
    if state == TaskState.BLOCKED:
        return (yield from _blocked(s, info, base))
    if state == TaskState.DELAYED:
        return Explanation(
            **base,
            summary=f"waiting until {info.due_at} (a delay or a retry backoff), then ready",
            due_at=info.due_at,
            blocked_by=["not due yet"],
        )
    if state == TaskState.DEAD:
        return Explanation(
            **base,
            summary=f"in the DLQ after {info.attempts} attempts: {info.error}",
            blocked_by=["dead: requeue it to run again"],
        )
    if state == TaskState.CANCELED:
        by = f" by {info.canceled_by} at {info.canceled_at}" if info.canceled_by else ""
        return Explanation(**base, summary=f"canceled{by}; nothing will run it again")
    if state == TaskState.COMPLETED:
        return Explanation(**base, summary=f"{state}; nothing will run it again")
    if state != TaskState.READY:
        return Explanation(**base, summary=f"unknown state {state!r}: the record may be corrupt")
    reply = yield s.read_call("explain", s.aging_us, task_id)
    ahead, pass_, vt, paused, inflight, cap, weight, in_rr = reply[:8]
    tenant, tenant_pass, _tenant_weight, fairness, charge, basis = reply[8:14]
    user_wake, tenant_wake, cap_mode = reply[14:17]
    ahead = int(ahead)
    minute_now = yield _c("TIME")
    _, minute = server_now(minute_now)
    _, served_total, total_weight = yield from _share_context(s, minute)
    w = float(weight)
    blocked = []
    if int(paused):
        blocked.append("user is paused")
    if int(cap) and int(inflight) >= int(cap):
        if cap_mode == "soft":
            blocked.append(
                f"user at its soft cap ({inflight}/{cap} in flight): served only when no "
                "other user has ready work"
            )
        else:
            blocked.append(f"user at its cap ({inflight}/{cap} in flight)")
    if user_wake:
        blocked.append(f"user's rate limit: next token at {_ts(int(user_wake))}")
    if tenant_wake:
        blocked.append(f"tenant {tenant}'s rate limit: next token at {_ts(int(tenant_wake))}")
    dispatches = None
    eta = None
    if ahead >= 0:
        # Stride scheduling gives the user weight / total weight of the dispatches.
        share = w / total_weight if total_weight else 1.0
        dispatches = max(round((ahead + 1) / share) - 1, ahead)
        rate = served_total / (SHARE_WINDOW * 60)
        eta = round(dispatches / rate, 1) if rate > 0 and not blocked else None
    summary = (
        f"ready; {ahead} of {info.user_id}'s tasks run before it; about {dispatches} "
        f"dispatch{'' if dispatches == 1 else 'es'} "
        f"across users before it starts"
        if ahead >= 0
        else "ready, but not found in its user's queue (corrupt index?)"
    )
    if not int(in_rr) and not blocked:
        blocked.append("user is not in the round-robin yet (no worker pop since it became ready)")
    return Explanation(
        **base,
        summary=summary + ("" if not blocked else "; blocked: " + ", ".join(blocked)),
        ahead_in_user=ahead if ahead >= 0 else None,
        dispatches_ahead=dispatches,
        estimated_start_seconds=eta,
        user_pass=float(pass_) if pass_ else None,
        virtual_time=float(vt) if vt else None,
        tenant=tenant or None,
        tenant_pass=float(tenant_pass) if tenant_pass else None,
        fairness=fairness or "count",
        charge=float(charge) if charge else None,
        charge_basis=basis or None,
        blocked_by=blocked,
    )


NEIGHBOURS_SHOWN = 50  # parents and dependents whose states an explanation reads


def _neighbours(s: QueueSession, info: TaskInfo) -> Op[dict[str, Any]]:
    """The states of a task's parents and dependents (the first NEIGHBOURS_SHOWN of each)."""
    parents = list(info.parents[:NEIGHBOURS_SHOWN])
    kids = list(info.dependents[:NEIGHBOURS_SHOWN])
    found = yield from get_tasks(s, parents + kids)
    states = ["missing" if t is None else str(t.state) for t in found]
    return {
        "parents": list(info.parents),
        "parent_states": dict(zip(parents, states[: len(parents)], strict=True)),
        "dependent_states": dict(zip(kids, states[len(parents) :], strict=True)),
        "dependents": len(info.dependents),
    }


def _blocked(s: QueueSession, info: TaskInfo, base: dict[str, Any]) -> Op[Explanation]:
    """A blocked task: which parents it still waits for, and in what state each is."""
    parents = yield from get_tasks(s, list(info.parents))
    waiting = []
    for pid, parent in zip(info.parents, parents, strict=True):
        if parent is None:
            waiting.append(f"parent {pid}: not pushed yet (or expired)")
        elif not parent.ended or (
            parent.state != TaskState.COMPLETED and info.after_policy != "any_end"
        ):
            waiting.append(f"parent {pid}: {_PARENT_STATE.get(str(parent.state), parent.state)}")
    rule = (
        "runs once every parent has ended, whatever the outcome"
        if info.after_policy == "any_end"
        else "runs once every parent has completed; a parent that dies or is canceled cancels it"
    )
    left = info.waiting_for if info.waiting_for is not None else len(waiting)
    return Explanation(
        **base,
        summary=f"blocked: waits for {left} of its {len(info.parents)} parents; {rule}",
        blocked_by=waiting,
    )
