"""The operator's cockpit driven by Pilot against a real server: the tenants screen and one
tenant, the live event tail (filter, pause, open), picking rows with x and acting on them,
Shift acting without asking, a delayed task run now from its view, and all of it refused
read-only."""

from __future__ import annotations

import pytest

from fairque import Task, TaskState
from fairque.monitoring import Inspector
from fairque_tui.screens.dlq import DLQScreen
from fairque_tui.screens.overview import OverviewScreen
from fairque_tui.screens.tail import TailScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.screens.tenants import TenantScreen, TenantsScreen
from fairque_tui.screens.user import UserScreen
from fairque_tui.widgets.modals import ConfirmModal
from tests.support.tui_pilot import SIZE, loaded, make_app, queue_of, rows, until


@pytest.fixture
def tenants(make_config):
    config = make_config(queue={"max_attempts": 1, "tenants": {"acme": {"weight": 3}}})
    with queue_of(config) as q:
        for user, n in (("acme-1", 4), ("acme-2", 2)):
            q.push_batch([Task.create(user, 3, i, tenant="acme", task_id=f"{user}-{i}")
                          for i in range(n)])  # fmt: skip
        q.push_batch([Task.create("beta-1", 3, i, tenant="beta") for i in range(3)])
        q.push(Task.create("solo", 3, 0))
        yield config


async def test_the_tenants_screen_opens_a_tenant_with_its_users_and_running_tasks(tenants):
    app = make_app(tenants)
    with queue_of(tenants) as q:
        running = q.pop()  # acme's turn first (weight 3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        screen = await loaded(pilot, TenantsScreen)
        await until(pilot, lambda: rows(app, "#tenants") == ["acme", "beta"])
        acme = next(r for r in screen.rows if r.tenant == "acme")
        assert (acme.weight, acme.users, acme.ready, acme.inflight) == (3.0, 2, 5, 1)
        await pilot.press("slash", *"bet", "enter")  # the filter
        await until(pilot, lambda: rows(app, "#tenants") == ["beta"])
        await pilot.press("escape")  # clears it
        await until(pilot, lambda: rows(app, "#tenants") == ["acme", "beta"])
        await pilot.press("k", "enter")  # the cursor stayed on beta
        tenant = await loaded(pilot, TenantScreen)
        assert tenant.tenant == "acme"
        await until(pilot, lambda: rows(app, "#users") == ["acme-1", "acme-2"])
        assert rows(app, "#running") == [running.task_id]
        await pilot.press("enter")  # a user's row opens the user
        user = await loaded(pilot, UserScreen)
        assert user.user_id == "acme-1"


async def test_drain_the_users_picked_on_a_tenants_screen_without_asking(tenants):
    app = make_app(tenants)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await loaded(pilot, TenantsScreen)
        await until(pilot, lambda: "acme" in rows(app, "#tenants"))
        await pilot.press("enter")
        await loaded(pilot, TenantScreen)
        await until(pilot, lambda: rows(app, "#users") == ["acme-1", "acme-2"])
        await pilot.press("x", "x")  # both picked
        await pilot.press("D")  # Shift: no confirmation
        assert not isinstance(app.screen, ConfirmModal)
        await until(pilot, lambda: app.screen.detail is None or app.screen.detail.row.ready == 0)
    with Inspector(tenants) as ins:
        assert ins.user("acme-1").row.ready == ins.user("acme-2").row.ready == 0
        assert ins.user("beta-1").row.ready == 3  # not picked: untouched


async def test_x_picks_pending_tasks_and_c_cancels_them_after_asking(tenants):
    app = make_app(tenants)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, OverviewScreen)
        await until(pilot, lambda: "acme-1" in rows(app, "#users"))
        await pilot.press("slash", *"acme-1", "enter", "enter")
        await loaded(pilot, UserScreen)
        await until(pilot, lambda: len(rows(app, "#pending")) == 4)
        await pilot.press("x", "x", "c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: len(rows(app, "#pending")) == 2)
    with queue_of(tenants) as q:
        assert [q.get_task(f"acme-1-{i}").state for i in range(4)] == [
            TaskState.CANCELED, TaskState.CANCELED, TaskState.READY, TaskState.READY
        ]  # fmt: skip


async def test_the_event_tail_shows_events_as_they_happen_filters_and_pauses(tenants):
    app = make_app(tenants)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        tail = await loaded(pilot, TailScreen)
        with queue_of(tenants) as q:
            q.complete(q.pop())
            q.fail(q.pop(), "broken")  # one attempt: dead
        await until(pilot, lambda: len(rows(app, "#tail")) == 2)
        assert [e.event for e in tail.by_key.values()] == ["dead", "completed"]  # newest first
        await pilot.press("slash", *"event:dead", "enter")
        await until(pilot, lambda: len(rows(app, "#tail")) == 1)
        dead = next(iter(tail.by_key.values()))
        await pilot.press("escape", "space")  # paused: the view stays as it is
        with queue_of(tenants) as q:
            q.complete(q.pop())
        await until(pilot, lambda: tail.seen["completed"] == 2)  # read, not drawn
        assert len(rows(app, "#tail")) == 2
        await pilot.press("space")
        await until(pilot, lambda: len(rows(app, "#tail")) == 3)
        await pilot.press("enter")  # the cursor stayed on the dead task: its view
        task = await loaded(pilot, TaskScreen)
        assert task.task_id == dead.task_id


async def test_a_delayed_task_runs_now_from_its_view(tenants):
    app = make_app(tenants)
    with queue_of(tenants) as q:
        q.push(Task.create("later", 3, 0, task_id="later-1", delay=3600))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", *"later-1", "enter")
        await loaded(pilot, TaskScreen)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen))
    with queue_of(tenants) as q:
        served = {q.pop().task_id for _ in range(11)} - {None}
        assert "later-1" in served


async def test_read_only_every_new_view_works_and_every_action_is_refused(tenants):
    app = make_app(tenants, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await loaded(pilot, TenantsScreen)
        await until(pilot, lambda: "acme" in rows(app, "#tenants"))
        await pilot.press("enter")
        await loaded(pilot, TenantScreen)
        await until(pilot, lambda: rows(app, "#users"))
        await pilot.press("x", "D", "d", "p")  # hidden and refused
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("7")
        await loaded(pilot, TailScreen)
        await pilot.press("r")
        await pilot.press("2")
        await loaded(pilot, DLQScreen)
        await pilot.press("R", "D")
    with Inspector(tenants) as ins:
        assert ins.user("acme-1").row.ready == 4 and not ins.user("acme-1").row.paused
