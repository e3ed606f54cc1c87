"""The TUI driven by Textual's Pilot against a real embedded server: every screen, filter,
sort, DLQ requeue (confirmed and cancelled), pause and resume, drain, a small benchmark,
read-only refusals, and a server that goes away and comes back."""

from __future__ import annotations

import asyncio
import threading

from textual.widgets import DataTable, Footer

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.monitoring import Inspector
from fairque.monitoring.readable import dependency_lines
from fairque.server import EmbeddedServer, free_port
from fairque.worker import Worker
from fairque_tui.screens.bench import BenchScreen
from fairque_tui.screens.dlq import DLQScreen
from fairque_tui.screens.overview import OverviewScreen
from fairque_tui.screens.tables_screens import AlertsScreen, SchedulesScreen, WorkersScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.screens.user import UserScreen
from fairque_tui.widgets.modals import ConfirmModal, HelpModal, PickModal, TextModal
from fairque_tui.widgets.status import Banner
from tests.support.tui_pilot import SIZE, loaded, make_app, queue_of, rows, until
from tests.support.waiting import wait_for


async def test_every_screen_opens_and_shows_the_server_data(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, OverviewScreen)
        await until(pilot, lambda: {"a", "b", "c", "d"} <= set(rows(app, "#users")))
        assert rows(app, "#users")[0] == "a"  # the largest backlog first
        await pilot.press("2")
        await loaded(pilot, DLQScreen)
        assert set(rows(app)) == {"dead0", "dead1", "dead2"}
        await pilot.press("3")
        await loaded(pilot, WorkersScreen)
        await until(pilot, lambda: "tui-w1" in rows(app))
        await pilot.press("4")
        await loaded(pilot, SchedulesScreen)
        assert rows(app) == ["nightly"]
        await pilot.press("5")
        await loaded(pilot, AlertsScreen)
        await pilot.press("b")
        await loaded(pilot, BenchScreen)
        await pilot.press("1")
        await loaded(pilot, OverviewScreen)
        await pilot.press("enter")  # the user under the cursor: a
        user = await loaded(pilot, UserScreen)
        assert user.user_id == "a"
        assert set(rows(app)) == {f"a{i}" for i in range(5)}
        await pilot.press("enter")  # explain the task under the cursor
        modal = await until(pilot, lambda: isinstance(app.screen, TextModal) and app.screen)
        assert modal.title_text.startswith("task a")
        await pilot.press("escape")
        await pilot.press("escape")
        await loaded(pilot, OverviewScreen)
        await pilot.press("question_mark")
        help_modal = await until(pilot, lambda: isinstance(app.screen, HelpModal) and app.screen)
        described = {what for _, what in help_modal.bindings}
        assert {"Filter", "Sort", "Pause/resume", "Drain", "Help", "Quit", "Bench"} <= described
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, OverviewScreen))


async def test_filter_and_sort(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {"a", "b", "c", "d"} <= set(rows(app, "#users")))
        await pilot.press("slash", "b")
        await until(pilot, lambda: rows(app, "#users") == ["b"])
        await pilot.press("escape")
        await until(pilot, lambda: len(rows(app, "#users")) >= 4)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        await pilot.press("s", "s")  # backlog -> wait -> name
        await until(
            pilot, lambda: screen.sort == "name" and rows(app, "#users")[:4] == ["a", "b", "c", "d"]
        )
        await pilot.press("s")
        await until(pilot, lambda: screen.sort == "backlog" and rows(app, "#users")[0] == "a")


async def test_requeue_from_the_dlq_cancelled_then_confirmed(seeded):
    app = make_app(seeded)
    q = queue_of(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, DLQScreen)
        table = app.screen.query_one(DataTable)
        first = str(table.ordered_rows[0].key.value)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await pilot.pause(0.5)
        assert q.get_task(first).state == "dead" and q.stats().dead == 3
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task(first).state == "ready")
        await until(pilot, lambda: first not in rows(app))
        assert q.stats().dead == 2
        # Grouped by error: requeue every "boom" at once; select + delete the rest.
        await pilot.press("g")
        await until(
            pilot,
            lambda: isinstance(app.screen, DLQScreen) and app.screen.mode == "error" and rows(app),
        )
        assert set(rows(app)) <= {"boom", "other"}
    q.close()


async def test_select_and_delete_in_the_dlq(seeded):
    app = make_app(seeded)
    q = queue_of(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await loaded(pilot, DLQScreen)
        await pilot.press("space", "space")  # select the first two rows
        screen = app.screen
        assert isinstance(screen, DLQScreen) and len(screen.selected) == 2
        chosen = set(screen.selected)
        await pilot.press("d", "y")
        await until(pilot, lambda: all(q.get_task(t) is None for t in chosen))
        assert q.stats().dead == 1
    q.close()


async def test_pause_resume_and_drain(seeded):
    app = make_app(seeded)
    q = queue_of(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rows(app, "#users")[:1] == ["a"])
        await pilot.press("p")
        await until(pilot, lambda: "a" in q.client.smembers(q.session.keys.key("paused")))
        await pilot.pause(0.5)
        await pilot.press("p")
        await until(pilot, lambda: "a" not in q.client.smembers(q.session.keys.key("paused")))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")  # cancelled: nothing drained
        await pilot.pause(0.3)
        assert q.get_task("a0").state == "ready"
        await pilot.press("d", "y")
        await until(pilot, lambda: q.get_task("a0").state == "canceled")
        assert all(q.get_task(f"a{i}").state == "canceled" for i in range(5))
        assert q.get_task("b0").state == "ready"
    q.close()


async def test_read_only_hides_and_refuses_every_change(seeded):
    app = make_app(seeded, read_only=True)
    q = queue_of(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rows(app, "#users")[:1] == ["a"])
        footer_keys = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert "pause" not in footer_keys and "drain" not in footer_keys
        await pilot.press("p", "d")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmModal)
        app.screen.action_pause()  # reached another way (the palette): refused all the same
        await pilot.pause(0.3)
        assert q.client.smembers(q.session.keys.key("paused")) == set()
        await pilot.press("2")
        await loaded(pilot, DLQScreen)
        await pilot.press("r", "d")
        await pilot.pause(0.5)
        assert q.stats().dead == 3
        await pilot.press("b")
        await loaded(pilot, BenchScreen)
        assert app.screen.query_one("#connected").disabled  # benchmarks write: not here
        assert "READ-ONLY" in str(app.screen.query_one("StatusBar").render())
        assert app.screen.query_one(Footer) is not None
    q.close()


async def test_a_small_benchmark_runs_from_the_bench_screen(seeded):
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        screen = await loaded(pilot, BenchScreen)
        screen.query_one("#scenario").value = "weights"
        await pilot.pause()
        screen.query_one("#tasks").value = "300"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.report is not None, timeout=120)
        assert screen.report.scenario == "weights"
        assert set(screen.figures) == {"w3 share %", "w2 share %", "w1 share %"}
        summary = screen.query_one("#summary", DataTable)
        assert summary.row_count >= 2


async def test_server_stopped_mid_session_shows_the_banner_and_recovers(tmp_path):
    port = free_port()
    server = EmbeddedServer(port=port, directory=tmp_path / "data", appendonly=True).start()
    config = FairQueueConfig(
        redis={"url": server.url, "socket_timeout": 1, "socket_connect_timeout": 0.5},
        queue={"name": "tui-outage"},
    )
    with TaskQueue(config) as q:
        q.push(Task.create("survivor", 3, 1))
    app = make_app(config)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: rows(app, "#users") == ["survivor"])
            banner = app.screen.query_one(Banner)
            assert not banner.display or not banner.has_class("-shown")
            server.stop()
            await until(pilot, lambda: banner.has_class("-shown"), timeout=20)
            assert "connection lost" in str(banner.render())
            assert app.is_running  # it never exits
            server = EmbeddedServer(port=port, directory=tmp_path / "data", appendonly=True)
            server.start()
            await until(pilot, lambda: not banner.has_class("-shown"), timeout=20)
            await until(pilot, lambda: rows(app, "#users") == ["survivor"])
    finally:
        server.stop()


async def test_workers_show_whom_they_serve_and_a_settings_conflict_is_an_alert(make_config):
    from fairque.queue import ops

    first = make_config(
        workers=[{"id": "w-first", "assigned_users": ["acme"]}],
        queue={"users": {"acme": {"weight": 3}}},
    )
    second = make_config(
        workers=[{"id": "w-second", "steal_targets": "*"}],
        queue={"users": {"acme": {"weight": 5}}},
    )
    for config in (first, second):  # each registers as its worker would at start
        with TaskQueue(config) as q:
            q.run(ops.register(q.session))
    app = make_app(make_config())
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("3")
        await loaded(pilot, WorkersScreen)
        await pilot.press("5")
        await loaded(pilot, AlertsScreen)
        key = "config_conflict · w-second"
        await until(pilot, lambda: key in rows(app, "#active"))
        table = app.screen.query_one("#active", DataTable)
        message = str(table.get_row(key)[-1])
        assert "acme.weight: 5 here, 3 in force" in message and "w-first (seed)" in message


async def test_cancel_a_pending_and_a_running_task_from_the_user_screen(seeded):
    q = queue_of(seeded)
    held = q.pop()  # one of a's tasks is now in flight (the oldest, a0)
    assert held is not None and held.user_id == "a"
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "a" in rows(app, "#users"))
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        app.push_screen(UserScreen(screen.ctx, "a"))
        await loaded(pilot, UserScreen)
        await until(pilot, lambda: rows(app, "#running") == [held.task_id])
        pending = rows(app, "#pending")[0]
        await pilot.press("c")  # the pending task under the cursor: asked first
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task(pending).state == "canceled")
        await until(pilot, lambda: pending not in rows(app, "#pending"))
        await pilot.press("tab", "c")  # the running one: its worker is told
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task(held.task_id).cancel_requested)
        running = app.screen.query_one("#running", DataTable)
        await until(pilot, lambda: "canceling" in str(running.get_row_at(0)))
    assert q.get_task(held.task_id).state == "leased"  # until its lease ends
    q.close()


async def test_cancel_from_a_tasks_view(seeded):
    q = queue_of(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "a" in rows(app, "#users"))
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        app.push_screen(UserScreen(screen.ctx, "a"))
        await loaded(pilot, UserScreen)
        task_id = rows(app, "#pending")[0]
        await pilot.press("enter")  # the task's view (its explanation)
        await until(pilot, lambda: isinstance(app.screen, TextModal))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task(task_id).state == "canceled")
    read_only = make_app(seeded, read_only=True)
    async with read_only.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "a" in rows(read_only, "#users"))
        read_only.push_screen(UserScreen(read_only.screen.ctx, "a"))
        await loaded(pilot, UserScreen)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(read_only.screen, TextModal))
        await pilot.press("c")  # hidden and refused: no question, nothing canceled
        await pilot.pause(0.5)
        assert isinstance(read_only.screen, TextModal)
    assert q.stats().counters.get("canceled", 0) == 1
    q.close()


async def test_a_tasks_view_shows_its_dependency_tree_and_its_groups_progress(seeded):
    q = queue_of(seeded)
    group = q.group([Task.create("g", 3, {"n": i}, task_id=f"g{i}") for i in range(3)],
                    then=Task.create("g", 3, None, task_id="g-then"))  # fmt: skip
    q.cancel("g2")  # one member ended (canceled): the callback waits for the other two
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "g" in rows(app, "#users"))
        app.push_screen(UserScreen(app.screen.ctx, "g"))
        user = await loaded(pilot, UserScreen)
        label = user.query_one("#running-label")
        await until(pilot, lambda: "blocked on parents: 1" in str(label.render()))
        assert rows(app, "#pending")[0] == "g0"
        await pilot.press("enter")  # g0's view: the task that waits for it
        modal = await until(pilot, lambda: isinstance(app.screen, TextModal) and app.screen)
        assert "dependents: 1" in modal.body and "└ g-then  blocked" in modal.body
    explained = Inspector(seeded).open()
    try:
        chord = explained.explain("g-then")
    finally:
        explained.close()
    assert chord is not None and chord.state == "blocked"
    assert chord.parent_states == {"g0": "ready", "g1": "ready", "g2": "canceled"}
    assert "parents: 1 of 3 ended" in "\n".join(dependency_lines(chord))
    assert group.progress().canceled == 1
    q.close()


async def test_a_task_by_id_with_its_actions(seeded):
    q = queue_of(seeded)
    q.push(Task.create("z", 3, {"secret": "[b]pw[/b]"}, task_id="by-id"))
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, OverviewScreen)
        await pilot.press("t", *"by-id", "enter")
        screen = await loaded(pilot, TaskScreen)
        body = lambda: str(screen.query_one("#task-body").render())  # noqa: E731
        assert "ready" in body() and "payload hidden" in body() and "pw" not in body()
        await pilot.press("p")
        await until(pilot, lambda: "[b]pw[/b]" in body())  # shown literally, not as markup
        await pilot.press("r")  # not dead: nothing to requeue, nothing asked
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task("by-id").state == "canceled")
        await until(pilot, lambda: "canceled by tui:" in body())
        await pilot.press("escape")
        await loaded(pilot, OverviewScreen)
        await pilot.press("t", *"dead0", "enter")  # a dead task: requeued from its view
        screen = await loaded(pilot, TaskScreen)
        await until(pilot, lambda: "RuntimeError" in str(screen.query_one("#task-body").render()))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: q.get_task("dead0").state == "ready")
        await pilot.press("escape", "t", *"nope", "enter")
        screen = await loaded(pilot, TaskScreen)
        assert "no such task" in str(screen.query_one("#task-body").render())
    read_only = make_app(seeded, read_only=True)
    async with read_only.run_test(size=SIZE) as pilot:
        await loaded(pilot, OverviewScreen)
        await pilot.press("t", *"dead1", "enter")
        await loaded(pilot, TaskScreen)
        await pilot.press("r", "c")  # hidden and refused: nothing asked, nothing changed
        await pilot.pause(0.3)
        assert isinstance(read_only.screen, TaskScreen)
    assert q.get_task("dead1").state == "dead"
    q.close()


async def test_a_workers_row_opens_the_tasks_it_holds(seeded, make_config):
    release = threading.Event()
    config = make_config(workers=[{"id": "holder", "assigned_users": ["h"], "concurrency": 2}])
    worker = Worker(config, lambda task: release.wait(30), worker_id="holder")
    thread = threading.Thread(target=worker.run, daemon=True)
    q = queue_of(seeded)
    q.push(Task.create("h", 3, None, task_id="held-1"))
    thread.start()
    try:
        await asyncio.to_thread(wait_for, lambda: q.get_task("held-1").state == "leased")
        app = make_app(seeded)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot, OverviewScreen)
            await pilot.press("3")
            screen = await loaded(pilot, WorkersScreen)
            await until(pilot, lambda: "holder" in rows(app))
            table = screen.query_one(DataTable)
            table.move_cursor(row=rows(app).index("holder"))
            await pilot.press("enter")
            modal = await until(pilot, lambda: isinstance(app.screen, PickModal) and app.screen)
            assert [key for key, _ in modal.rows] == ["held-1"] and "holds: 1" in modal.title_text
            await pilot.press("enter")
            task_screen = await loaded(pilot, TaskScreen)
            assert "leased" in str(task_screen.query_one("#task-body").render())
    finally:
        release.set()
        worker.stop()
        thread.join(10)
        q.close()
