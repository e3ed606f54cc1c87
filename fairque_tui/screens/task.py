"""One task by its id (key ``t`` anywhere, then the id): where it is and why, its attempts,
lease and progress, result or error, parents and dependents, and what can be done to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from fairque.core.models import TaskInfo, TaskState
from fairque.monitoring.models import Explanation
from fairque.monitoring.readable import dependency_lines
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.base import LiveScreen
from fairque_tui.widgets.status import Banner, StatusBar

PAYLOAD_SHOWN = 4096  # characters of a payload shown (on request: it may hold personal data)


@dataclass(frozen=True)
class TaskView:
    info: TaskInfo | None
    explanation: Explanation | None


class TaskScreen(LiveScreen[TaskView]):
    """A task, refreshed live; ``c`` cancels it, ``n`` runs a delayed one now (a retry waiting
    out its backoff) and ``r`` requeues a dead one from the DLQ (each after a confirmation,
    refused read-only); ``p`` shows its payload."""

    BINDINGS = [
        Binding("escape", "app.go_back", "Back"),
        Binding("c", "cancel_task", "Cancel"),
        Binding("n", "retry_now", "Retry now (delayed)"),
        Binding("r", "requeue", "Requeue (dead)"),
        Binding("p", "toggle_payload", "Payload"),
    ]
    MUTATING: ClassVar[frozenset[str]] = frozenset({"cancel_task", "requeue", "retry_now"})

    def __init__(self, ctx: TuiContext, task_id: str) -> None:
        super().__init__(ctx)
        self.task_id = task_id
        self.payload_shown = False
        self.view: TaskView | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        with VerticalScroll():
            yield Static(f"task {self.task_id}", id="task-body")
        yield Footer()

    async def load(self) -> TaskView:
        return TaskView(await self.source.task(self.task_id),
                        await self.source.explain(self.task_id))  # fmt: skip

    def show(self, data: TaskView) -> None:
        self.view = data
        self.query_one("#task-body", Static).update(task_text(self.task_id, data,
                                                              self.payload_shown))  # fmt: skip
        self.refresh_bindings()  # what can be done depends on its state

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not super().check_action(action, parameters):
            return False
        info = self.view.info if self.view else None
        if action == "requeue":
            return info is not None and info.state == TaskState.DEAD
        if action == "retry_now":
            return info is not None and info.state == TaskState.DELAYED
        if action == "cancel_task":
            return info is not None and not info.ended
        return True

    def action_toggle_payload(self) -> None:
        self.payload_shown = not self.payload_shown
        if self.view is not None:
            self.show(self.view)

    def action_cancel_task(self) -> None:
        self.mutate(f"cancel {self.task_id}", lambda: self.source.cancel(self.task_id),
                    f"Cancel task {self.task_id}? A queued task never runs; a running one's "
                    "worker is told to stop it (it ends canceled, never retried).")  # fmt: skip

    def action_retry_now(self) -> None:
        self.mutate(
            f"retry {self.task_id} now",
            lambda: self.source.retry_now(self.task_id),
            f"Run delayed task {self.task_id} now? It is due at once (its backoff or delay "
            "cut short).",
        )

    def action_requeue(self) -> None:
        info = self.view.info if self.view else None
        if info is None or info.state != TaskState.DEAD:
            self.notify("only a dead task (in the DLQ) can be requeued", severity="warning")
            return
        self.mutate(
            f"requeue {self.task_id}",
            lambda: self.source.requeue(task_ids=[self.task_id]),
            f"Requeue dead task {self.task_id}? It becomes ready again, attempts reset.",
        )


def task_text(task_id: str, view: TaskView, payload_shown: bool) -> str:
    """The task as the screen shows it (Rich markup; everything the task holds escaped)."""
    info, ex = view.info, view.explanation
    if info is None:
        return f"task {e(task_id)}: no such task (never pushed, or its record expired)"
    lines = [
        f"[b]task {e(task_id)}[/b]  {e(info.state)}  user {e(info.user_id)}  priority "
        f"{info.priority}  handler {e(info.handler or '-')}",
        f"attempts {info.attempts} of {info.max_attempts or 'the queue default'}"
        + (f" · worker {e(info.worker_id)}" if info.worker_id else "")
        + (f" · lease until {fmt.when(info.lease_deadline)}" if info.lease_deadline else ""),
        f"created {fmt.when(info.created_at)} · started {fmt.when(info.started_at)}"
        f" · finished {fmt.when(info.finished_at)}"
        + (f" · due {fmt.when(info.due_at)}" if info.due_at else ""),
    ]
    if info.progress is not None or info.progress_note is not None:
        done = "-" if info.progress is None else f"{info.progress:.0%}"
        lines.append(f"progress {done} {e(_json(info.progress_note))}")
    if info.canceled_by:
        lines.append(f"canceled by {e(info.canceled_by)} at {fmt.when(info.canceled_at)}")
    if ex is not None:
        lines += ["", f"[b]why[/b] {e(ex.summary)}"]
        lines += [f"  - {e(b)}" for b in ex.blocked_by]
        lines += ["", *map(e, dependency_lines(ex))] if ex.parents or ex.dependents else []
    if info.state == TaskState.COMPLETED:
        lines += ["", f"[b]result[/b] {e(_json(info.result)[:PAYLOAD_SHOWN])}"]
    if info.error:
        lines += ["", f"[b]error[/b] {e(info.error_type or '')}: {e(info.error)}"]
        if info.traceback:
            lines.append(e(info.traceback[-2000:]))
    lines.append("")
    if payload_shown:
        text = _json(info.payload)
        cut = f" (the first {PAYLOAD_SHOWN:,} of {len(text):,} characters)"
        lines.append(f"[b]payload[/b]{cut if len(text) > PAYLOAD_SHOWN else ''} "
                     f"{e(text[:PAYLOAD_SHOWN])}")  # fmt: skip
    else:
        lines.append("[b]payload[/b] hidden (p shows it: it may hold personal data)")
    return "\n".join(lines)


def e(value: object) -> str:
    """A value as literal text in Rich markup (a payload may hold "[b]")."""
    return escape(str(value))


def _json(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)
