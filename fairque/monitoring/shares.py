"""The fair share: what a perfectly fair scheduler would have given each user in a window.

Weighted max-min fairness ("water-filling") over the tasks dispatched in the window: a user who
asked for less than its weighted part of the capacity gets all it asked for, and what it leaves
is split among the others by weight, until every user is either satisfied or at its part. A
user's demand is what it was served plus what it still has queued. With no backlog anywhere,
everyone got all it asked for and fair equals served; a user served below its fair share
waited while others took its part. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FairLevel:
    """The outcome of water-filling, kept small: a user's fair part is its demand, capped at
    ``level`` times its weight (``level`` None: no capacity yet, the part is the weight's
    share of ``total_weight``). Computing it groups users by (demand, weight), so a queue of
    100,000 users costs a sort of the distinct pairs, not of the users."""

    capacity: float
    level: float | None
    total_weight: float

    def share(self, demand: float, weight: float) -> float:
        """A user's fair part of the capacity, as a fraction of it (0 without demand)."""
        if demand <= 0:
            return 0.0
        if self.level is None:
            return weight / self.total_weight if self.total_weight else 0.0
        return min(demand, self.level * weight) / self.capacity


def fair_level(
    demand: Mapping[str, float],
    weights: Mapping[str, float],
    capacity: float,
    default_weight: float = 1.0,
) -> FairLevel:
    """Water-filling over the users with demand; a user ``weights`` leaves out has
    ``default_weight``. One pass over the (demand, weight) groups by demand per weight,
    smallest first: while a group wants no more than its weighted part of what is left, it
    gets what it wants; the first that wants more sets the level."""
    # Users with the default weight grouped by demand alone (counted in C); the few with a
    # weight of their own moved to their own group.
    by_demand = Counter(demand.values())
    for u, w in weights.items():
        d = demand.get(u, 0.0)
        if u in demand and w != default_weight:
            by_demand[d] -= 1
    groups: Counter[tuple[float, float]] = Counter(
        {(d, default_weight): n for d, n in by_demand.items() if d > 0 and n > 0}
    )
    for u, w in weights.items():
        d = demand.get(u, 0.0)
        if d > 0 and w != default_weight:
            groups[(d, w)] += 1
    total_weight = sum(w * n for (_, w), n in groups.items())
    if capacity <= 0 or not groups:
        return FairLevel(capacity, None, total_weight)
    left, weight_left = float(capacity), total_weight
    for (d, w), n in sorted(groups.items(), key=lambda g: g[0][0] / g[0][1]):
        if d > left * w / weight_left:
            return FairLevel(capacity, left / weight_left, total_weight)
        left -= d * n
        weight_left -= w * n
    return FairLevel(capacity, math.inf, total_weight)  # everyone got all it wanted


def fair_shares(
    demand: Mapping[str, float],
    weights: Mapping[str, float],
    capacity: float,
    default_weight: float = 1.0,
) -> dict[str, float]:
    """Each user's fair part of ``capacity`` (as a fraction of it), users with demand only;
    a user ``weights`` leaves out has ``default_weight``. With no capacity (nothing
    dispatched yet), the entitlement is the weight's share among the users with demand."""
    level = fair_level(demand, weights, capacity, default_weight)
    return {u: level.share(d, weights.get(u, default_weight)) for u, d in demand.items() if d > 0}
