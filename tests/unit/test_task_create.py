"""Task.create builds its model without pydantic's validation or defaults pass: the result must
still be the task pydantic would have built, so a field added to the model without being added
there is caught here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairque.core.models import Priority, Task, TaskState


def test_a_created_task_sets_every_field_of_the_model() -> None:
    task = Task.create("u1", 4, {"a": 1})
    assert set(task.__dict__) == set(Task.model_fields)
    assert list(task.__dict__) == list(Task.model_fields)  # the order model_dump follows


def test_a_created_task_equals_the_validated_one() -> None:
    after = datetime.now(UTC) + timedelta(days=2)
    task = Task.create("u1", 4, {"a": [1, 2]}, task_id="t1", execute_after=after,
                       handler="resize", max_attempts=5, tenant="acme", cost=2.5)  # fmt: skip
    validated = Task.model_validate(task.model_dump())
    assert task.model_dump() == validated.model_dump()
    assert (task.priority, task.state, task.attempts) == (Priority.HIGH, TaskState.READY, 0)
    assert task.payload_json == '{"a":[1,2]}'


def test_the_fields_set_are_the_ones_create_names() -> None:
    task = Task.create("u1")
    named = {"task_id", "user_id", "priority", "payload", "handler", "max_attempts",
             "execute_after", "delay", "tenant", "cost", "after", "after_policy", "unique_key",
             "debounce"}  # fmt: skip
    assert task.model_fields_set == named
    assert set(task.model_dump(exclude_unset=True)) == named


def test_a_created_task_is_its_own_object() -> None:
    a, b = Task.create("u1", payload={"x": 1}), Task.create("u1", payload={"x": 1})
    assert a.task_id != b.task_id and a.__dict__ is not b.__dict__
    assert a.__pydantic_private__ is not b.__pydantic_private__
    a.note_run(1.5)
    assert a.run_seconds == 1.5 and b.run_seconds is None


def test_a_new_id_is_32_random_hex_digits_a_valid_task_id() -> None:
    from fairque.core.validation import check_task_id

    ids = {Task.create("u1").task_id for _ in range(1000)}
    assert len(ids) == 1000
    for task_id in ids:
        assert len(task_id) == 32 and set(task_id) <= set("0123456789abcdef")
        assert check_task_id(task_id) == task_id
