"""A popped task is built without validation (records.parse_task): it must still be a whole,
ordinary Task, so a field added to the model without being added there is caught here."""

from __future__ import annotations

import pytest

from fairque.core.models import Lease, Priority, Task, TaskState
from fairque.queue.records import POP_ROW, ROW_SEPARATOR, parse_task, row_lease

FIELDS = ["id1", "7.abc", "u1", "6", "2", "5", "1700000000000", "1700000060000", "1", "12",
          "resize", '{"traceparent": "00-x"}', '{"a": [1, 2]}']  # fmt: skip
ROW = ROW_SEPARATOR.join(FIELDS)


def row_with(**changed: str) -> str:
    return ROW_SEPARATOR.join(
        changed.get(name, value) for name, value in zip(POP_ROW, FIELDS, strict=True)
    )


def test_a_pop_row_names_every_field_it_carries() -> None:
    assert len(FIELDS) == len(POP_ROW) and POP_ROW[-1] == "payload"


def test_a_popped_task_sets_every_field_of_the_models() -> None:
    task, why = parse_task(ROW, "w1")
    assert why == "" and task is not None
    assert set(task.__dict__) == set(Task.model_fields)
    assert task.lease is not None and set(task.lease.__dict__) == set(Lease.model_fields)


def test_a_popped_task_reads_like_a_validated_one() -> None:
    task, _ = parse_task(ROW, "w1")
    assert task is not None and task.lease is not None
    assert (task.priority, task.state, task.attempts, task.max_attempts) == (
        Priority.CRITICAL, TaskState.LEASED, 2, 5)  # fmt: skip
    assert task.payload == {"a": [1, 2]} and task.payload_json == '{"a": [1, 2]}'
    assert task.lease.stolen and task.lease.waited_ms == 12 and task.lease.sequence == 7
    assert Task.model_validate(task.model_dump()) == Task.model_validate(task.model_dump())
    again = task.model_copy(update={"attempts": 3})
    assert again.attempts == 3 and again.task_id == "id1"


def test_a_corrupt_payload_is_named() -> None:
    task, why = parse_task(row_with(payload="{not json"), "w1")
    assert task is None and "not valid JSON" in why


def test_the_payload_is_the_rest_of_the_row_whatever_it_holds() -> None:
    payload = '{"sep": "\\u0000", "text": "a|b"}'  # JSON writes a NUL escaped: never raw
    task, why = parse_task(row_with(payload=payload), "w1")
    assert why == "" and task is not None and task.payload == {"sep": "\x00", "text": "a|b"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("attempt", "x"), ("priority", "9"), ("created_ms", "soon"), ("max_attempts", "3\x00junk")],
)
def test_fields_written_over_from_outside_make_a_corrupt_task_not_a_crash(field, value) -> None:
    row = row_with(**{field: value})
    task, why = parse_task(row, "w1")
    assert task is None and why.startswith("corrupt: ")
    assert row_lease(row) == ("id1", "7.abc")  # it can still be buried under its lease
