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
