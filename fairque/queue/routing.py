"""Who serves whom, and which user settings are in force: what each process offers the server.

Two things used to travel together in one configuration mirror, and now travel apart:

- **Routing** belongs to each worker, about itself. A worker registers its assignment (its
  ``[[workers]]`` entry, or ``--assigned``/``--steal``) and keeps it alive with its beats;
  the scripts derive users' pools and workers' scopes from the union of live registrations
  (``routing.lua``). Producers, schedulers, the CLI and the TUI never register.
- **User settings** (default weight, per-user weight and ``max_inflight``, queue-wide limits)
  come from configuration. The first consumer that offers settings seeds them; after that
  only ``fairque config apply`` changes them. A live worker whose settings differ from the
  ones in force is a ``config_conflict`` (kept as its *view*, shown and alerted on), never a
  silent rewrite.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from fairque.core.config import FairQueueConfig, QueueConfig
from fairque.core.rates import show_rate

EVERYONE: Literal["*"] = "*"


@dataclass(frozen=True, slots=True)
class Registration:
    """One worker's assignment: its own users first, then the ones it may steal."""

    worker_id: str
    assigned: tuple[str, ...]
    steal: tuple[str, ...] | Literal["*"]

    @property
    def assigned_csv(self) -> str:
        return ",".join(self.assigned)

    @property
    def steal_spec(self) -> str:
        return EVERYONE if self.steal == EVERYONE else ",".join(self.steal)

    @property
    def fingerprint(self) -> str:
        """Short and stable: the pop script compares it with the live registration."""
        text = f"{self.assigned_csv}|{self.steal_spec}"
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def registration_of(config: FairQueueConfig, worker_id: str | None) -> Registration | None:
    """The registration of ``worker_id`` from its ``[[workers]]`` entry (None: no identity)."""
    if worker_id is None:
        return None
    worker = config.worker(worker_id)
    steal = worker.steal_targets
    return Registration(
        worker.id,
        tuple(sorted(set(worker.assigned_users))),
        EVERYONE if steal == EVERYONE else tuple(sorted(set(steal))),
    )


def _num(value: Any) -> float:
    return float(value)


@dataclass(frozen=True)
class SettingsDoc:
    """The user settings of one configuration, as the server stores and compares them."""

    default_weight: float = 1.0
    max_payload_bytes: int = QueueConfig().max_payload_bytes
    dlq_max: int = QueueConfig().dlq_max
    idle_user_seconds: float = QueueConfig().idle_user_seconds
    users: dict[str, tuple[float, int]] = field(default_factory=dict)  # weight, cap (0: none)
    fairness: str = "count"
    tenants: dict[str, float] = field(default_factory=dict)  # tenant -> weight
    # Rate limits: user or "+<tenant>" -> (tasks per second, burst); the default for users
    limits: dict[str, tuple[float, int]] = field(default_factory=dict)
    default_limit: tuple[float, int] | None = None
    max_inflight_mode: str = "hard"
    modes: dict[str, str] = field(default_factory=dict)  # user -> its own cap mode

    @classmethod
    def of(cls, config: FairQueueConfig) -> SettingsDoc:
        q = config.queue
        return cls(
            float(q.default_weight),
            q.max_payload_bytes,
            q.dlq_max,
            float(q.idle_user_seconds),
            {u: (float(s.weight), s.max_inflight or 0) for u, s in sorted(q.users.items())},
            q.fairness,
            {t: float(s.weight) for t, s in sorted(q.tenants.items())},
            _limits_of(q),
            q.default_limit(),
            q.max_inflight_mode,
            {u: s.max_inflight_mode for u, s in sorted(q.users.items()) if s.max_inflight_mode},
        )

    @classmethod
    def from_json(cls, text: str) -> SettingsDoc:
        d = json.loads(text)
        return cls(
            _num(d["default_weight"]),
            int(d["max_payload_bytes"]),
            int(d["dlq_max"]),
            _num(d.get("idle_user_seconds", QueueConfig().idle_user_seconds)),
            {
                u: (_num(s["weight"]), int(s["max_inflight"]))
                for u, s in sorted(d.get("users", {}).items())
            },
            str(d.get("fairness", "count")),
            {t: _num(w) for t, w in sorted(d.get("tenants", {}).items())},
            {n: (_num(r), int(b)) for n, (r, b) in sorted(d.get("limits", {}).items())},
            (_num(d["default_limit"][0]), int(d["default_limit"][1]))
            if d.get("default_limit")
            else None,
            str(d.get("max_inflight_mode", "hard")),
            dict(sorted(d.get("modes", {}).items())),
        )

    @property
    def has_opinion(self) -> bool:
        """False for a configuration that names no users and keeps every default: such a
        process (a flags-only worker, a bare producer) neither seeds nor conflicts."""
        return self != SettingsDoc()

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "default_weight": self.default_weight,
            "max_payload_bytes": self.max_payload_bytes,
            "dlq_max": self.dlq_max,
            "users": {u: {"weight": w, "max_inflight": cap} for u, (w, cap) in self.users.items()},
        }
        # Left out at its default, so documents (and fingerprints) written before the field
        # existed still match.
        if self.idle_user_seconds != QueueConfig().idle_user_seconds:
            doc["idle_user_seconds"] = self.idle_user_seconds
        if self.fairness != "count":
            doc["fairness"] = self.fairness
        if self.tenants:
            doc["tenants"] = self.tenants
        if self.limits:
            doc["limits"] = {n: list(v) for n, v in self.limits.items()}
        if self.default_limit:
            doc["default_limit"] = list(self.default_limit)
        if self.max_inflight_mode != "hard":
            doc["max_inflight_mode"] = self.max_inflight_mode
        if self.modes:
            doc["modes"] = self.modes
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @property
    def fingerprint(self) -> str:
        return hashlib.blake2b(self.to_json().encode(), digest_size=12).hexdigest()

    def diff(self, in_force: SettingsDoc) -> list[str]:
        """Each field where this document differs from ``in_force``, as
        ``what: <this> here, <that> in force``."""
        out = []
        for name in ("default_weight", "max_payload_bytes", "dlq_max", "idle_user_seconds"):
            mine, theirs = getattr(self, name), getattr(in_force, name)
            if mine != theirs:
                out.append(f"{name}: {mine:g} here, {theirs:g} in force")
        if self.fairness != in_force.fairness:
            out.append(f"fairness: {self.fairness} here, {in_force.fairness} in force")
        if self.max_inflight_mode != in_force.max_inflight_mode:
            out.append(
                f"max_inflight_mode: {self.max_inflight_mode} here, "
                f"{in_force.max_inflight_mode} in force"
            )
        if self.default_limit != in_force.default_limit:
            out.append(
                f"default_rate: {_show_limit(self.default_limit)} here, "
                f"{_show_limit(in_force.default_limit)} in force"
            )
        out += _diff_map("rate", self.limits, in_force.limits, _show_limit)
        out += _diff_map("max_inflight_mode", self.modes, in_force.modes, lambda m: m or "default")
        tenants = {f"+{t}": w for t, w in self.tenants.items()}
        out += _diff_map(
            "weight",
            tenants,
            {f"+{t}": w for t, w in in_force.tenants.items()},
            lambda w: _show(w or 1),
        )
        for user in sorted(set(self.users) | set(in_force.users)):
            mine_u, theirs_u = self.users.get(user), in_force.users.get(user)
            if mine_u is None:
                out.append(f"{user}: not configured here, configured in force")
            elif theirs_u is None:
                out.append(f"{user}: configured here, not in force")
            else:
                for label, mine_v, theirs_v in zip(
                    ("weight", "max_inflight"), mine_u, theirs_u, strict=True
                ):
                    if mine_v != theirs_v:
                        out.append(
                            f"{user}.{label}: {_show(mine_v)} here, {_show(theirs_v)} in force"
                        )
        return out


def _diff_map(
    field_name: str, mine: dict[str, Any], theirs: dict[str, Any], show: Any
) -> list[str]:
    """``<who>.<field>: <mine> here, <theirs> in force`` for each key whose values differ
    (a key ``+x`` names tenant x)."""
    out = []
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a != b:
            who = f"tenant {key[1:]}" if key.startswith("+") else key
            out.append(f"{who}.{field_name}: {show(a)} here, {show(b)} in force")
    return out


def _show_limit(limit: tuple[float, int] | None) -> str:
    return "none" if limit is None else f"{show_rate(limit[0])} burst {limit[1]}"


def _limits_of(q: QueueConfig) -> dict[str, tuple[float, int]]:
    """Every configured rate limit: users by id, tenants as ``+<tenant>``."""
    out: dict[str, tuple[float, int]] = {}
    for user, us in sorted(q.users.items()):
        if (limit := us.limit()) is not None:
            out[user] = limit
    for tenant, ts in sorted(q.tenants.items()):
        if (limit := ts.limit()) is not None:
            out["+" + tenant] = limit
    return out


def _show(value: float) -> str:
    return "none" if value == 0 else f"{value:g}"


def describe_diff(lines: list[str], limit: int = 5) -> str:
    """The first ``limit`` differences, and how many more."""
    shown = "; ".join(lines[:limit])
    return shown + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")


def parse_route(raw: str) -> tuple[str, str, list[str], list[str] | Literal["*"]]:
    """A stored registration: (fingerprint, settings fingerprint, assigned, steal)."""
    fp, sfp, assigned, steal = raw.split("|", 3)
    users = [u for u in assigned.split(",") if u]
    if steal == EVERYONE:
        return fp, sfp, users, EVERYONE
    return fp, sfp, users, [u for u in steal.split(",") if u]
