"""The Grafana dashboard and the Prometheus alert rules shipped in docs/ query only metrics and
labels fairque exports, mirror every built-in alert rule with its default threshold, and are
well-formed: they cannot drift from the code silently.

What "exported" means is measured, not listed: a live queue with every kind of series
(backlog past the top-N cap, a paused, a capped and a quarantined user, a registered worker,
a dead task) is scraped, plus a worker's own /metrics registry."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import promql_parser as promql
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from fairque import Task, TaskQueue
from fairque.core.config import AlertsConfig
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.alerts import RULES
from fairque.monitoring.metrics import dump
from fairque.worker.observe import RunObserver, SettledRun
from tests.support.harness import Harness
from tests.support.waiting import wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "fairque.json"
RULES_FILE = DOCS / "prometheus" / "alerts.yml"
# Grafana's variables, replaced by values PromQL can parse.
GRAFANA_VARS = {"$__rate_interval": "5m", "$queue": "q", "${datasource}": "prom"}

Exported = dict[str, dict[str, set[str]]]  # sample name -> label -> values seen


@pytest.fixture(scope="module")
def exported(server_url: str) -> Exported:
    import uuid

    import redis

    from fairque.core.config import FairQueueConfig, WorkerConfig

    name = f"dash-{uuid.uuid4().hex[:8]}"
    config = FairQueueConfig(
        redis={"url": server_url},
        queue={"name": name, "max_attempts": 1, "users": {"capped": {"max_inflight": 1}}},
    )
    # A worker that registers and beats but serves a user without work: the data stays put.
    idle_worker = config.model_copy(update={"workers": [
        WorkerConfig(id="w-dash", assigned_users=["nobody"], steal_targets=[])]})  # fmt: skip
    raw = redis.Redis.from_url(server_url)
    with TaskQueue(config) as q:
        k = q.session.keys
        q.push(Task.create("broken", 5, 0))
        raw.delete(k.prio("broken", 5))
        raw.set(k.prio("broken", 5), "the wrong type")
        assert q.pop() is None  # quarantines "broken"
        q.push_batch([Task.create("capped", 3, i) for i in range(3)])
        held = q.pop()  # capped: 1 in flight of max 1
        q.push_batch([Task.create(u, p, i) for u in ("busy", "calm", "paused")
                      for p in (3, 6) for i in range(3)])  # fmt: skip
        Admin(config, queue=q).pause("paused")
        q.push(Task.create("doomed", 3, 0, task_id="doomed"))
        while (t := q.pop()) is not None and t.user_id != "doomed":
            q.complete(t)
        q.fail(t, ValueError("no"))  # one dead task
        worker = Harness("sync", idle_worker, lambda task: None)  # registers and beats
        try:
            wait_for(lambda: Inspector(config, queue=q).workers())
            text = dump(Inspector(config, queue=q), top_users=2)
        finally:
            worker.stop()
        q.complete(held)
    observer = RunObserver("w-dash")
    observer.exchanged(0.001, 1)
    observer.server_error()
    observer.settled([SettledRun("t", "u", "resize", 1, 0.01, 3, False)], {})
    text += generate_latest(observer.registry).decode()
    seen: Exported = defaultdict(lambda: defaultdict(set))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label, value in sample.labels.items():
                seen[sample.name][label].add(value)
            seen[sample.name]  # a sample without labels still names a series
    return seen


def dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p["targets"]]


def rule_list() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES_FILE.read_text())
    return [r for group in doc["groups"] for r in group["rules"]]


def for_promql(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def selectors(node: Any, out: list[tuple[str, list[tuple[str, str, str]]]],
              grouping: set[str]) -> None:  # fmt: skip
    """Every metric selector (name, [(label, op, value)]) and every grouping label."""
    if isinstance(node, promql.VectorSelector):
        matchers = [(m.name, str(m.op), m.value) for m in node.matchers.matchers]
        out.append((node.name, matchers))
    elif isinstance(node, promql.MatrixSelector):
        selectors(node.vector_selector, out, grouping)
    elif isinstance(node, promql.AggregateExpr):
        if node.modifier is not None:
            grouping.update(node.modifier.labels)
        selectors(node.expr, out, grouping)
        if node.param is not None:
            selectors(node.param, out, grouping)
    elif isinstance(node, promql.BinaryExpr):
        matching = node.modifier.matching if node.modifier is not None else None
        if matching is not None:
            grouping.update(matching.labels)
        selectors(node.lhs, out, grouping)
        selectors(node.rhs, out, grouping)
    elif isinstance(node, promql.Call):
        for arg in node.args:
            selectors(arg, out, grouping)
    elif isinstance(node, promql.ParenExpr | promql.UnaryExpr | promql.SubqueryExpr):
        selectors(node.expr, out, grouping)
    else:
        assert isinstance(node, promql.NumberLiteral | promql.StringLiteral), type(node)


def check(expr: str, exported: Exported) -> None:
    found: list[tuple[str, list[tuple[str, str, str]]]] = []
    grouping: set[str] = set()
    selectors(promql.parse(for_promql(expr)), found, grouping)
    assert found, expr
    labels_used: set[str] = set()
    for name, matchers in found:
        assert name in exported, f"{name} is not exported (in {expr!r})"
        for label, op, value in matchers:
            assert label in exported[name], f"{name} has no label {label!r} (in {expr!r})"
            if "Equal" in op and "Not" not in op and not value.startswith("$") and label != "queue":
                assert value in exported[name][label], f"{name}{{{label}={value!r}}} never seen"
            if "Re" in op and "Not" not in op:
                for alternative in value.split("|"):
                    assert alternative in exported[name][label], (name, label, alternative)
        labels_used |= set(exported[name])
    assert grouping <= labels_used, (expr, grouping - labels_used)


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_every_dashboard_query_uses_exported_metrics_and_labels(expr, exported):
    check(expr, exported)


@pytest.mark.parametrize("rule", rule_list(), ids=lambda r: r["alert"])
def test_every_alert_rule_uses_exported_metrics_and_labels(rule, exported):
    check(rule["expr"], exported)


def test_the_queue_variable_reads_an_exported_label(exported):
    (queue_var,) = [v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]
                    if v["name"] == "queue"]  # fmt: skip
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", queue_var["definition"]).groups()
    assert label in exported[metric]


def test_every_built_in_rule_has_an_alert_with_its_default_threshold():
    rules = rule_list()
    assert {r["labels"]["fairque_rule"] for r in rules} == set(RULES)
    defaults = AlertsConfig()
    thresholds = {
        "dlq_size": defaults.dlq_size, "dlq_growth": defaults.dlq_growth_5m,
        "backlog": defaults.backlog, "oldest_age": defaults.oldest_age_seconds,
        "starvation": defaults.starvation_seconds, "failure_rate": defaults.failure_rate,
        "server_memory": defaults.memory_ratio,
    }  # fmt: skip
    for r in rules:
        name = r["labels"]["fairque_rule"]
        assert r["labels"]["severity"] in ("warning", "critical")
        if name in thresholds:
            numbers = {float(n) for n in re.findall(r"(?<![\w.])\d+(?:\.\d+)?", r["expr"])}
            assert float(thresholds[name]) in numbers or name == "dlq_size", (name, r["expr"])
    sizes = {float(re.findall(r"\d+", r["expr"])[-1]) for r in rules
             if r["labels"]["fairque_rule"] == "dlq_size"}  # fmt: skip
    assert sizes == {defaults.dlq_size, defaults.dlq_size * 10}  # warning, then critical at 10x
    failure = next(r for r in rules if r["labels"]["fairque_rule"] == "failure_rate")
    assert str(defaults.failure_min_events_5m) in failure["expr"]


PANEL_TYPES = {"stat", "timeseries", "table", "bargauge", "gauge", "text", "row"}


def test_the_dashboard_is_well_formed():
    """The structure Grafana's importer needs (the subset of its dashboard schema used here)."""
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and isinstance(doc["schemaVersion"], int)
    names = {v["name"] for v in doc["templating"]["list"]}
    assert names == {"datasource", "queue"}
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in doc["panels"]:
        assert p["type"] in PANEL_TYPES and p["title"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "xywh") and g["w"] > 0 and g["h"] > 0
        assert g["x"] + g["w"] <= 24, p["title"]  # Grafana's grid is 24 columns wide
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs))
        assert all(t["expr"].strip() for t in p["targets"])
    titles = " ".join(p["title"].lower() for p in doc["panels"])
    for wanted in ("throughput", "backlog", "oldest", "wait", "served vs fair", "workers", "alert"):
        assert wanted in titles
