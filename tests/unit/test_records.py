"""A popped task is built without validation (records.parse_task): it must still be a whole,
ordinary Task, so a field added to the model without being added there is caught here."""

from __future__ import annotations

from fairque.core.models import Lease, Priority, Task, TaskState
from fairque.queue.records import POP_ROW, parse_task

ROW = ["id1", "u1", "6", '{"a": [1, 2]}', "resize", "2", "5", "1700000000000", "7.abc",
       "1700000060000", "1", "12", '{"traceparent": "00-x"}']  # fmt: skip


def test_a_pop_row_names_every_field_it_carries() -> None:
    assert len(ROW) == len(POP_ROW)


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
    task, why = parse_task([*ROW[:3], "{not json", *ROW[4:]], "w1")
    assert task is None and "not valid JSON" in why
