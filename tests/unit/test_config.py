"""Configuration: TOML file, env vars, precedence, and errors that name the field."""

from __future__ import annotations

import pytest

from fairque import FairQueueConfig
from fairque.core.exceptions import ConfigError

TOML = """
[redis]
url = "redis://file:6379/0"

[queue]
name = "jobs"
aging_seconds = 30
visibility_timeout = 20

[queue.users."user:1"]
weight = 3
max_inflight = 5

[[workers]]
id = "w1"
assigned_users = ["user:1", "user:2"]
steal_targets = "*"
concurrency = 4
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FAIRQUE_"):
            monkeypatch.delenv(name)


def write(tmp_path, text: str):
    path = tmp_path / "fairque.toml"
    path.write_text(text)
    return path


def test_load_reads_every_section(tmp_path):
    cfg = FairQueueConfig.load(write(tmp_path, TOML))
    assert cfg.redis.url == "redis://file:6379/0"
    assert cfg.queue.name == "jobs" and cfg.queue.aging_seconds == 30
    assert cfg.queue.users["user:1"].weight == 3
    assert cfg.queue.users["user:1"].max_inflight == 5
    assert cfg.worker("w1").steal_targets == "*"
    assert cfg.worker("w1").concurrency == 4
    assert cfg.user_settings("nobody").weight == cfg.queue.default_weight


def test_env_overrides_file_and_shortcuts_work(tmp_path, monkeypatch):
    path = write(tmp_path, TOML)
    monkeypatch.setenv("FAIRQUE_REDIS_URL", "redis://env:1/0")
    monkeypatch.setenv("FAIRQUE_QUEUE__AGING_SECONDS", "7.5")
    monkeypatch.setenv("FAIRQUE_REDIS__SOCKET_TIMEOUT", "2")
    monkeypatch.setenv("FAIRQUE_TEST_SOMETHING", "ignored")
    cfg = FairQueueConfig.load(path)
    assert cfg.redis.url == "redis://env:1/0"
    assert cfg.queue.aging_seconds == 7.5
    assert cfg.redis.socket_timeout == 2
    assert cfg.queue.name == "jobs"  # the rest of the file still applies
    monkeypatch.setenv("FAIRQUE_QUEUE", "other")
    assert FairQueueConfig.load(path).queue.name == "other"


def test_fairque_config_env_and_default_file(tmp_path, monkeypatch):
    path = write(tmp_path, TOML)
    monkeypatch.chdir(tmp_path)
    assert FairQueueConfig.load().queue.name == "jobs"  # ./fairque.toml
    other = tmp_path / "other.toml"
    other.write_text('[queue]\nname = "from-env-path"\n')
    monkeypatch.setenv("FAIRQUE_CONFIG", str(other))
    assert FairQueueConfig.load().queue.name == "from-env-path"
    assert path.exists()


def test_env_lists_accept_commas_and_json(monkeypatch):
    monkeypatch.setenv(
        "FAIRQUE_WORKERS", '[{"id": "w9", "assigned_users": "a,b", "steal_targets": ["c"]}]'
    )
    cfg = FairQueueConfig.load()
    assert cfg.worker("w9").assigned_users == ["a", "b"]


def test_create_default():
    cfg = FairQueueConfig.create_default(
        worker_id="worker-001",
        assigned_users=["user:1", "user:2"],
        steal_targets=["user:3"],
        redis_url="redis://localhost:6379/0",
    )
    assert cfg.workers[0].id == "worker-001"
    assert cfg.workers[0].steal_targets == ["user:3"]
    assert cfg.redis.url == "redis://localhost:6379/0"


def test_unknown_worker_id_is_named():
    cfg = FairQueueConfig.create_default("w1")
    with pytest.raises(ConfigError, match="no worker with id 'w2'"):
        cfg.worker("w2")


@pytest.mark.parametrize(
    ("queue", "named"),
    [
        ({"fairness": "speed"}, "queue.fairness"),
        ({"tenants": {"bad id": {"weight": 1}}}, "queue.tenants"),
        ({"tenants": {"acme": {"weight": 0}}}, "queue.tenants.acme.weight"),
    ],
)
def test_bad_fairness_settings_name_the_field(queue, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        FairQueueConfig(queue=queue)


def test_fairness_settings_travel_in_the_settings_document():
    from fairque.queue.routing import SettingsDoc

    plain = SettingsDoc.of(FairQueueConfig())
    assert "fairness" not in plain.to_json() and "tenants" not in plain.to_json()
    doc = SettingsDoc.of(
        FairQueueConfig(queue={"fairness": "time", "tenants": {"acme": {"weight": 2}}})
    )
    again = SettingsDoc.from_json(doc.to_json())
    assert again == doc and again.fairness == "time" and again.tenants == {"acme": 2.0}
    assert again.has_opinion
    assert doc.diff(plain) == [
        "fairness: time here, count in force",
        "tenant acme.weight: 2 here, 1 in force",
    ]
