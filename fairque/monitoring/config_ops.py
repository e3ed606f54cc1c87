"""Reads of the settings in force and of the routing, as sans-IO operations (two round trips)."""

from __future__ import annotations

from fairque.monitoring.models import (
    ConfigState,
    SettingsConflict,
    SettingsView,
    UserSettingsView,
    WorkerRoute,
)
from fairque.monitoring.read_helpers import _c, _ts
from fairque.queue.ops import Op, QueueSession
from fairque.queue.routing import EVERYONE, SettingsDoc, parse_route


def _view(fp: str, doc: SettingsDoc) -> SettingsView:
    return SettingsView(
        fingerprint=fp,
        default_weight=doc.default_weight,
        max_payload_bytes=doc.max_payload_bytes,
        dlq_max=doc.dlq_max,
        idle_user_seconds=doc.idle_user_seconds,
        fairness=doc.fairness,
        tenants=dict(doc.tenants),
        users={
            u: UserSettingsView(weight=w, max_inflight=cap or None)
            for u, (w, cap) in doc.users.items()
        },
    )


def _pools(text: str) -> list[str] | str:
    return EVERYONE if text == EVERYONE else [p for p in text.split(",") if p]


def config_state(s: QueueSession) -> Op[ConfigState]:
    k = s.keys
    meta, routes, reg, scopes = yield [
        _c("HGETALL", k.key("settings_meta")),
        _c("HGETALL", k.key("routes")),
        _c("ZRANGE", k.key("reg"), 0, -1, "WITHSCORES"),
        _c("HGETALL", k.key("scope")),
    ]
    expiry = {w: int(float(score)) for w, score in reg}
    parsed = {w: parse_route(raw) for w, raw in sorted(routes.items())}
    in_force = meta.get("fp") or ""
    fps = sorted({in_force, *(sfp for _, sfp, _, _ in parsed.values())} - {""})
    texts = (yield _c("HMGET", k.key("settings_docs"), *fps)) if fps else []
    docs = {fp: SettingsDoc.from_json(t) for fp, t in zip(fps, texts, strict=True) if t}
    force_doc = docs.get(in_force, SettingsDoc())
    out_routes: list[WorkerRoute] = []
    conflicts: list[SettingsConflict] = []
    for worker, (_, sfp, assigned, steal) in parsed.items():
        scope = scopes.get(worker, "||").split("|")
        out_routes.append(
            WorkerRoute(
                worker_id=worker,
                assigned_users=assigned,
                steal_targets=steal,
                expires_at=_ts(expiry.get(worker)),
                home_pools=_pools(scope[1]),
                steal_pools=_pools(scope[2]),
                settings_fingerprint=sfp or None,
            )
        )
        if sfp and sfp != in_force and sfp in docs:
            conflicts.append(
                SettingsConflict(
                    worker_id=worker,
                    settings_fingerprint=sfp,
                    differences=docs[sfp].diff(force_doc),
                )
            )
    return ConfigState(
        queue=s.queue.name,
        settings=_view(in_force, force_doc) if in_force else None,
        written_by=meta.get("writer"),
        written_at=_ts(meta.get("at")),
        written_how=meta.get("how"),
        routes=out_routes,
        conflicts=conflicts,
    )


def settings_in_force(s: QueueSession) -> Op[tuple[str, SettingsDoc | None]]:
    """The fingerprint and document of the settings in force (None: never written)."""
    k = s.keys
    fp = yield _c("HGET", k.key("settings_meta"), "fp")
    if not fp:
        return "", None
    text = yield _c("HGET", k.key("settings_docs"), fp)
    return fp, SettingsDoc.from_json(text) if text else SettingsDoc()
