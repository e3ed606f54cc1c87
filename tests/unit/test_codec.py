"""encode_json's depth limit: the bracket count of the encoded text only decides whether the
value is walked, never the answer."""

from __future__ import annotations

from typing import Any

import pytest

from fairque.core.codec import encode_json
from fairque.core.exceptions import InvalidPayload


def nested(levels: int) -> Any:
    value: Any = 1
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def test_one_level_too_deep_is_refused_and_the_limit_itself_is_fine() -> None:
    assert encode_json(nested(32)).count("[") + encode_json(nested(32)).count("{") == 32
    with pytest.raises(InvalidPayload, match="deeper than 32"):
        encode_json(nested(33))


@pytest.mark.parametrize(
    "value",
    [
        {"text": "[" * 100 + "{" * 100},  # brackets in strings: counted, then walked
        {f"k{i}": [i] for i in range(40)},  # 41 containers side by side: depth 2
        [{"a": [1]}, {"b": [2]}] * 20,
    ],
)
def test_many_brackets_at_a_shallow_depth_are_fine(value: Any) -> None:
    text = encode_json(value)
    assert text.count("[") + text.count("{") > 32


def test_a_value_that_refers_to_itself_is_refused_as_too_deep() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidPayload, match="deeper than 32"):
        encode_json(loop)


def test_too_deep_is_named_before_what_else_is_wrong_with_it() -> None:
    with pytest.raises(InvalidPayload, match="deeper than 32"):
        encode_json([nested(40), {1, 2}])  # a set: not JSON-serializable either
