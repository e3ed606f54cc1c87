"""``fairque-tui serve`` in a real headless browser (Debian's chromium through Playwright):
the page loads, the overview shows the users of a live queue, a key press switches screens,
and the session is read-only unless asked.

Set FAIRQUE_DOCS_SHOT=path.png to also save the overview as the README's screenshot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fairque import Task, TaskQueue
from fairque.server import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium here (CI installs Debian's; `apt-get install chromium` to run this)",
)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1].decode()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"fairque-tui serve did not listen on {port} in {seconds} s")


@pytest.fixture
def serve(make_config) -> Iterator[tuple[str, TaskQueue]]:  # type: ignore[no-untyped-def]
    config = make_config()
    port = free_port()
    with TaskQueue(config) as q:
        q.push_batch([Task.create(u, 3, i) for u in ("browser-alice", "browser-bob")
                      for i in range(3)])  # fmt: skip
        q.push_batch([Task.create("browser-dave", 3, i, tenant="browsercorp",
                                  task_id=f"browser-task-{i}") for i in range(2)])  # fmt: skip
        argv = [sys.executable, "-m", "fairque_tui.cli", "serve", config.redis.url,
                "--queue", config.queue.name, "--port", str(port), "--refresh", "0.5"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}/", q
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Screen:
    """What the browser received from the dashboard (the terminal stream over its websocket)."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.frames: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def wait_for(self, text: str, since: int = 0, seconds: float = 30) -> int:
        """Wait until ``text`` arrives after frame ``since``; the frame count then."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text.encode() in b"".join(self.frames[since:]):
                return len(self.frames)
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{text!r} never reached the browser")


@contextmanager
def dashboard(url: str) -> Iterator[tuple[Any, Screen]]:
    """The dashboard open in headless Chromium: the page and what it received."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            screen = Screen(page)
            page.goto(url)
            yield page, screen
        finally:
            browser.close()


def test_dashboard_in_a_browser(serve, tmp_path):  # type: ignore[no-untyped-def]
    url, q = serve
    with dashboard(url) as (page, screen):
        seen = screen.wait_for("browser-alice")
        screen.wait_for("browser-bob")
        screen.wait_for("READ-ONLY")  # read-only unless --read-write was given
        page.wait_for_timeout(500)  # let the canvas paint before the picture
        shot = tmp_path / "overview.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000  # a drawn page, not a blank one
        if os.environ.get("FAIRQUE_DOCS_SHOT"):
            shutil.copy(shot, os.environ["FAIRQUE_DOCS_SHOT"])

        page.locator(".xterm-helper-textarea").focus()  # keys go to the terminal
        page.keyboard.press("2")
        screen.wait_for("dead tasks", since=seen)  # the DLQ screen

        # A user pushed from elsewhere shows up without reloading the page.
        q.push(Task.create("browser-carol", 3, 0))
        page.keyboard.press("1")
        screen.wait_for("browser-carol", since=seen)


def test_the_tenants_screen_and_a_tasks_view_in_a_browser(serve):  # type: ignore[no-untyped-def]
    url, q = serve
    with dashboard(url) as (page, screen):
        seen = screen.wait_for("browser-alice")
        page.locator(".xterm-helper-textarea").focus()
        page.keyboard.press("6")
        seen = screen.wait_for("browsercorp", since=seen)  # the tenants screen
        screen.wait_for("with work", since=seen)
        page.keyboard.press("Enter")
        seen = screen.wait_for("tenant browsercorp", since=seen)  # one tenant
        screen.wait_for("browser-dave", since=seen)
        page.keyboard.press("t")
        page.keyboard.type("browser-task-1")
        page.keyboard.press("Enter")
        seen = screen.wait_for("task browser-task-1", since=seen)  # the task's view
        screen.wait_for("ready", since=seen)
        page.keyboard.press("c")  # read-only: no cancel, nothing changed
        page.wait_for_timeout(500)
        assert q.get_task("browser-task-1").state == "ready"
