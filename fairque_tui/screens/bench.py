"""Run a benchmark scenario in the background and watch its figures arrive."""

from __future__ import annotations

import json

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    RadioButton,
    RadioSet,
    RichLog,
    Select,
)

from fairque.bench import SCENARIOS, BenchReport
from fairque.core.exceptions import FairQueueError
from fairque_tui.context import TuiContext
from fairque_tui.widgets.charts import FiguresChart
from fairque_tui.widgets.status import Banner, StatusBar

DEFAULT_TASKS = {"throughput": 2000, "fairness": 2000, "weights": 3000, "scale-users": 1000,
                 "drain": 5000, "inspect": 20000}  # fmt: skip


class BenchScreen(Screen[None]):
    """Scenario, target (the connected server or a fresh embedded Valkey), size; run."""

    BINDINGS = [Binding("escape", "app.go_back", "Back"), Binding("ctrl+r", "run", "Run")]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.figures: dict[str, float] = {}
        self.running = False
        self.report: BenchReport | None = None

    def compose(self) -> ComposeResult:
        read_only = self.ctx.source.read_only
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        with Horizontal(id="bench-form"):
            with Vertical(classes="field"):
                yield Label("scenario")
                yield Select(
                    [(name, name) for name in SCENARIOS], value="throughput", allow_blank=False,
                    id="scenario",
                )  # fmt: skip
            with Vertical(classes="field"):
                yield Label("against")
                with RadioSet(id="target"):
                    yield RadioButton("embedded Valkey", value=True, id="embedded")
                    # Benchmarks write throwaway queues: not on a server opened read-only.
                    yield RadioButton("connected server", id="connected", disabled=read_only)
            with Vertical(classes="field"):
                yield Label("tasks")
                yield Input(str(DEFAULT_TASKS["throughput"]), id="tasks", type="integer")
            yield Button("Run (ctrl+r)", id="run", variant="primary")
        with Horizontal(id="bench-body"):
            yield FiguresChart(id="figures")
            yield RichLog(id="log", wrap=True, markup=False)
        yield DataTable(id="summary", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#summary", DataTable).add_columns("figure", "value")
        self.query_one(FiguresChart).show("figures appear as they are measured", {})

    def on_select_changed(self, event: Select.Changed) -> None:
        self.query_one("#tasks", Input).value = str(DEFAULT_TASKS.get(str(event.value), 2000))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            self.action_run()

    def action_run(self) -> None:
        if self.running:
            self.notify("a benchmark is already running", severity="warning")
            return
        scenario = str(self.query_one("#scenario", Select).value)
        try:
            tasks = max(10, int(self.query_one("#tasks", Input).value))
        except ValueError:
            self.notify("tasks must be a whole number", severity="error")
            return
        connected = self.query_one("#connected", RadioButton).value
        url = self.ctx.source.bench_url() if connected else None
        self.running = True
        self.figures = {}
        self.query_one("#summary", DataTable).clear()
        log = self.query_one(RichLog)
        log.clear()
        where = "the connected server" if url else "a fresh embedded Valkey"
        log.write(f"{scenario}: {tasks} tasks against {where}")
        self.query_one("#run", Button).disabled = True
        self._run(scenario, tasks, url)

    @work(thread=True, exclusive=True, group="bench")
    def _run(self, scenario: str, tasks: int, url: str | None) -> None:
        def progress(message: str, figure: tuple[str, float] | None = None) -> None:
            self.app.call_from_thread(self._progress, scenario, message, figure)

        try:
            report = SCENARIOS[scenario](url, tasks, progress)
        except (FairQueueError, OSError, AssertionError) as exc:
            self.app.call_from_thread(self._finished, None, f"failed: {exc}")
        else:
            self.app.call_from_thread(self._finished, report, "done")

    def _progress(self, scenario: str, message: str, figure: tuple[str, float] | None) -> None:
        self.query_one(RichLog).write(message)
        if figure is not None:
            name, value = figure
            self.figures[name] = value
            self.query_one(FiguresChart).show(scenario, self.figures)

    def _finished(self, report: BenchReport | None, outcome: str) -> None:
        self.running = False
        self.report = report
        self.query_one("#run", Button).disabled = False
        self.query_one(RichLog).write(outcome)
        if report is None:
            self.notify(f"benchmark {outcome}", severity="error")
            return
        table = self.query_one("#summary", DataTable)
        for group in (report.results, report.ratios, report.control or {}):
            for name, value in group.items():
                text = json.dumps(value) if isinstance(value, dict | list) else f"{value:,}"
                table.add_row(name, text)
        self.notify(f"{report.scenario} finished")
