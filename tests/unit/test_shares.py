"""The fair share's arithmetic (weighted max-min over a window's dispatches)."""

from __future__ import annotations

import pytest

from fairque.monitoring.shares import fair_shares


def test_users_that_wanted_less_get_it_and_the_rest_is_split_by_weight():
    shares = fair_shares({"a": 5, "b": 100, "c": 100}, {"a": 1, "b": 1, "c": 3}, 100)
    assert shares["a"] == pytest.approx(0.05)
    assert shares["b"] == pytest.approx(0.95 / 4) and shares["c"] == pytest.approx(0.95 * 3 / 4)
    assert sum(shares.values()) == pytest.approx(1)


def test_with_no_backlog_fair_equals_what_each_asked_for():
    served = {"a": 30, "b": 60, "c": 10}
    assert fair_shares(served, dict.fromkeys(served, 1.0), 100) == pytest.approx(
        {"a": 0.3, "b": 0.6, "c": 0.1}
    )


def test_a_chain_of_satisfied_users_frees_capacity_in_rounds():
    # 90 to share by 3: c (10) is satisfied first, then b (35 <= 40), then a takes 45.
    shares = fair_shares({"a": 80, "b": 35, "c": 10}, {"a": 1, "b": 1, "c": 1}, 90)
    assert shares == pytest.approx({"a": 0.5, "b": 35 / 90, "c": 10 / 90})


def test_nothing_dispatched_yet_means_the_weight_share_among_users_with_work():
    assert fair_shares({"a": 3, "b": 1, "idle": 0}, {"a": 1, "b": 3, "idle": 1}, 0) == {
        "a": 0.25, "b": 0.75,
    }  # fmt: skip
    assert fair_shares({}, {}, 10) == {}


def _by_rounds(demand, weights, capacity):
    """The definition, computed the slow way: rounds of satisfying every user that wants no
    more than its weighted part of what is left."""
    wanting = {u: d for u, d in demand.items() if d > 0}
    part, left, open_ = {}, float(capacity), set(wanting)
    while open_:
        total = sum(weights[u] for u in open_)
        satisfied = {u for u in open_ if wanting[u] <= left * weights[u] / total}
        if not satisfied:
            part.update({u: left * weights[u] / total for u in open_})
            break
        for u in satisfied:
            part[u] = wanting[u]
            left -= wanting[u]
        open_ -= satisfied
    return {u: p / capacity for u, p in part.items()}


@pytest.mark.parametrize("seed", range(20))
def test_the_one_pass_over_groups_matches_the_definition(seed):
    import random

    rng = random.Random(seed)
    users = [f"u{i}" for i in range(rng.randint(1, 300))]
    demand = {u: float(rng.choice([0, 1, 2, 5, 10, 50, rng.randint(1, 500)])) for u in users}
    default = rng.choice([1.0, 2.0])
    # A few users with a weight of their own (some equal to the default), the rest default.
    own = {u: rng.choice([0.5, 1.0, 2.0, 3.0]) for u in rng.sample(users, len(users) // 10)}
    weights = {u: own.get(u, default) for u in users}
    capacity = rng.randint(1, 2000)
    got = fair_shares(demand, own, capacity, default_weight=default)
    assert got == pytest.approx(_by_rounds(demand, weights, capacity))
