"""The fair share: what a perfectly fair scheduler would have given each user in a window.

Weighted max-min fairness ("water-filling") over the tasks dispatched in the window: a user who
asked for less than its weighted part of the capacity gets all it asked for, and what it leaves
is split among the others by weight, until every user is either satisfied or at its part. A
user's demand is what it was served plus what it still has queued. With no backlog anywhere,
everyone got all it asked for and fair equals served; a user served below its fair share
waited while others took its part. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping


def fair_shares(
    demand: Mapping[str, float], weights: Mapping[str, float], capacity: float
) -> dict[str, float]:
    """Each user's fair part of ``capacity`` (as a fraction of it), users with demand only.

    With no capacity (nothing dispatched yet), the entitlement is the weight's share among the
    users with demand."""
    wanting = {u: d for u, d in demand.items() if d > 0}
    if not wanting:
        return {}
    if capacity <= 0:
        total = sum(weights[u] for u in wanting)
        return {u: weights[u] / total for u in wanting}
    part: dict[str, float] = {}
    left, open_ = float(capacity), set(wanting)
    while open_:
        total = sum(weights[u] for u in open_)
        satisfied = {u for u in open_ if wanting[u] <= left * weights[u] / total}
        if not satisfied:  # everyone left wants more than its part: split by weight
            part.update({u: left * weights[u] / total for u in open_})
            break
        for u in satisfied:
            part[u] = wanting[u]
            left -= wanting[u]
        open_ -= satisfied
    return {u: p / capacity for u, p in part.items()}
