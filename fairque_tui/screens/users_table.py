"""The users table the overview and a tenant's screen share: its columns, its glossary, and
what it does to the users picked (pause or resume, drain; ``D`` drains without asking)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from fairque.monitoring.merge import user_order
from fairque.monitoring.models import RunningTask, UserRow
from fairque_tui import format as fmt
from fairque_tui.screens.picking import PickingScreen
from fairque_tui.widgets.tables import set_columns, sync_rows

T = TypeVar("T")

SORTS = ("backlog", "wait", "name")
WIDE = 110  # from this width on, the table shows every priority in its own column

NARROW_COLUMNS = [
    ("user", "user"), ("sel", "✓"), ("tenant", "tenant"), ("weight", "wt"), ("critical", "crit"),
    ("ready", "ready"), ("inflight", "run"), ("oldest", "oldest"), ("p95", "p95 wait"),
    ("served", "served"), ("fair", "fair"), ("state", "state"),
]  # fmt: skip
WIDE_COLUMNS = [
    ("user", "user"), ("sel", "✓"), ("tenant", "tenant"), ("weight", "weight"),
    ("critical", "crit"), ("p5", "p5"), ("p4", "p4"), ("p3", "p3"), ("p2", "p2"), ("p1", "p1"),
    ("inflight", "in flight"), ("oldest", "oldest"), ("p95", "p95 wait"), ("served", "served"),
    ("fair", "fair"), ("state", "state"),
]  # fmt: skip
# What the users table's columns mean (shown by "?").
GLOSSARY = [
    ("✓", "selected (x): p, d act on the selected users, else on the one under the cursor"),
    ("tenant", "the tenant the user belongs to ('-': none, it takes turns on its own)"),
    ("wt / weight", "the user's weight (↑: boosted for now)"),
    ("crit, p5..p1", "ready tasks by priority (crit runs before everything)"),
    ("ready / run", "tasks waiting / in flight now"),
    ("oldest", "age of the oldest ready task"),
    ("p95 wait", "95th percentile of push-to-start waits, last 100 tasks"),
    ("served", "the user's share of every task dispatched in the last 5 minutes"),
    ("fair", "what a perfectly fair scheduler would have given it of those dispatches, "
             "given what every user asked for (served + queued) and the weights: users that "
             "wanted less get all they wanted, the rest is split by weight. served = fair: "
             "treated fairly; served < fair: it waited; '-': it asked for nothing"),
    ("state", "paused, throttled (rate limit), capped (at its max in flight) or soft cap "
     "(served over its cap only when nobody else has work); blank when nothing holds it back"),
]  # fmt: skip

# What the overview, a tenant's and a user's screen can do to users.
USER_ACTIONS = [
    Binding("p", "pause", "Pause/resume"),
    Binding("d", "drain", "Drain"),
    Binding("D", "drain(False)", "Drain, no asking", show=False),
]


def user_cells(row: UserRow, wide: bool, mark: str = "") -> list[Any]:
    state = (
        "paused" if row.paused else "throttled" if row.throttled_until
        else ("capped" if row.cap_mode == "hard" else "soft cap") if row.capped else ""
    )  # fmt: skip
    weight = f"{row.weight:g}" + ("↑" if row.boosted_until else "")
    head: list[Any] = [row.user_id, mark, row.tenant or "-", weight, fmt.count(row.critical)]
    if wide:
        head += [fmt.count(row.by_priority.get(p, 0)) for p in (5, 4, 3, 2, 1)]
    else:
        head += [fmt.count(row.ready)]
    styled_state = Text(state, style="bold yellow") if state else Text("")
    return [
        *head,
        fmt.count(row.inflight),
        fmt.age(row.oldest_age_seconds),
        fmt.ms(row.p95_wait_ms),
        fmt.share(row.served_share),
        fmt.share(row.fair_share),
        styled_state,
    ]


def running_rows(tasks: Sequence[RunningTask], with_user: bool) -> list[tuple[str, list[Any]]]:
    """Rows of a table of tasks in flight: task, (user,) worker, running for, progress."""
    rows = []
    for t in tasks:
        progress = "canceling" if t.cancel_requested else (
            "-" if t.progress is None else f"{t.progress:.0%}"
        )  # fmt: skip
        user = [t.user_id or "-"] if with_user else []
        rows.append((t.task_id, [t.task_id, *user, t.worker_id or "-", fmt.age(t.run_seconds),
                                 progress]))  # fmt: skip
    return rows


class UsersTableScreen(PickingScreen[T]):
    """A screen with the users table (``#users``): filtered, sorted, picked from, paused,
    drained. Subclasses set ``user_rows`` when they fetch, then call ``redraw``."""

    TABLE = "#users"
    MUTATING = frozenset({"pause", "drain"})
    GLOSSARY = GLOSSARY
    FILTER_HINT = "filter users or tenants (esc clears)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sort = "backlog"
        self.user_rows: list[UserRow] = []

    def sorted_rows(self) -> list[UserRow]:
        """The rows in the chosen order (the overview's come sorted from the server)."""
        return sorted(self.user_rows, key=user_order(self.sort))

    def redraw(self) -> None:
        table = self.query_one("#users", DataTable)
        wide = self.size.width >= WIDE
        set_columns(table, WIDE_COLUMNS if wide else NARROW_COLUMNS)
        rows = [
            (r.user_id, user_cells(r, wide, self.mark(r.user_id)))
            for r in self.sorted_rows()
            if self.shown(r.user_id, r.tenant)
        ]
        sync_rows(table, rows)

    def on_resize(self) -> None:
        self.redraw()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.notify(f"sorted by {self.sort}")
        self.refresh_now()

    def action_refresh(self) -> None:
        self.refresh_now()

    def _row(self, user: str) -> UserRow | None:
        return next((r for r in self.user_rows if r.user_id == user), None)

    def action_pause(self) -> None:
        """Pause the users picked; resume them when the first is paused already."""
        users = self.picked()
        first = self._row(users[0]) if users else None
        if first is not None and first.paused:
            self.act_on_each("resume", users, self.source.resume, None)
        else:
            self.act_on_each("pause", users, self.source.pause, None)

    def action_drain(self, ask: bool = True) -> None:
        users = self.picked()
        ready = sum(r.ready for u in users if (r := self._row(u)) is not None)
        who = users[0] if len(users) == 1 else f"{len(users)} users"
        question = (
            f"Drain {who}? {ready:,} ready task(s) are cancelled (in-flight ones finish)."
            if ask else None
        )  # fmt: skip
        self.act_on_each("drain", users, self.source.drain, question)
