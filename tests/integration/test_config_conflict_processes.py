"""Two worker processes whose files give the same user other weights: the first to start
decides, the other is a config_conflict in `fairque info`, `--json alerts` and the metrics,
and the weights in force do not change however often either starts."""

from __future__ import annotations

import json
import subprocess
import sys

from fairque import FairQueueConfig
from fairque.monitoring import Inspector
from tests.support.processes import WorkerProcesses
from tests.support.waiting import wait_for


def toml(path, weight: int) -> str:
    path.write_text(f'[queue.users."acme"]\nweight = {weight}\n')
    return str(path)


def cli(url: str, queue: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", queue, *args],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout


def test_the_first_weights_decide_and_the_other_file_is_an_alert(server_url, queue_name, tmp_path):
    workers = WorkerProcesses(server_url, queue_name, tmp_path)
    three, five = toml(tmp_path / "three.toml", 3), toml(tmp_path / "five.toml", 5)
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})

    def state():
        with Inspector(config) as ins:
            return ins.config_state()

    try:
        first = None
        for _ in range(3):  # both restarted again and again: nothing flips
            a = workers.start("w-three", "--assigned", "acme", env={"FAIRQUE_CONFIG": three})
            b = workers.start("w-five", "--steal", "*", env={"FAIRQUE_CONFIG": five})
            wait_for(lambda: {r.worker_id for r in state().routes} == {"w-three", "w-five"}, 60)
            s = state()
            first = first or s.written_by  # whichever registered first seeded the settings
            assert s.written_by == first and s.written_how == "seed"
            weight = 3 if first == "w-three" else 5
            odd = "w-five" if first == "w-three" else "w-three"
            assert s.settings is not None and s.settings.users["acme"].weight == weight
            assert [c.worker_id for c in s.conflicts] == [odd]
            a.terminate(), b.terminate()
            a.wait(20), b.wait(20)
        a = workers.start("w-three", "--assigned", "acme", env={"FAIRQUE_CONFIG": three})
        b = workers.start("w-five", "--steal", "*", env={"FAIRQUE_CONFIG": five})
        wait_for(lambda: {r.worker_id for r in state().routes} == {"w-three", "w-five"}, 60)
        info = json.loads(cli(server_url, queue_name, "--json", "info"))
        assert [a["subject"] for a in info["alerts"] if a["rule"] == "config_conflict"] == [odd]
        serves = {w["worker_id"]: w["assigned_users"] for w in info["workers"]}
        assert serves == {"w-three": ["acme"], "w-five": []}
        alerts = json.loads(cli(server_url, queue_name, "--json", "alerts"))
        assert any(a["rule"] == "config_conflict" and "acme.weight" in a["message"] for a in alerts)
        assert "config_conflict" in cli(server_url, queue_name, "info")
        metrics = cli(server_url, queue_name, "metrics", "dump")
        assert f'fairque_alert_active{{queue="{queue_name}",rule="config_conflict"}} 1.0' in metrics
        assert 'fairque_worker_registration{assigned="acme"' in metrics
        shown = json.loads(cli(server_url, queue_name, "--json", "config", "show"))
        assert shown["settings"]["users"]["acme"]["weight"] == weight
        assert [c["worker_id"] for c in shown["conflicts"]] == [odd]
    finally:
        workers.stop_all()
