"""``ScheduledTask``: a cron schedule and the task it enqueues at each fire time."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairque.core.codec import encode_json
from fairque.core.cron import check_cron, check_timezone
from fairque.core.exceptions import FairQueueError, InvalidTaskId
from fairque.core.models import Priority
from fairque.core.validation import (
    check_handler_name,
    check_max_attempts,
    check_priority,
    check_task_id,
    check_user_id,
)


class MissedRuns(StrEnum):
    """What happens to fire times that passed while no scheduler was running."""

    SKIP = "skip"  # only fire times within misfire_grace_seconds are enqueued
    CATCH_UP = "catch_up"  # every missed fire time, the catch_up_max newest


class ScheduledTask(BaseModel):
    """A named cron schedule. Bad fields raise typed errors naming the field
    (:class:`~fairque.core.exceptions.InvalidCronExpression`, ``InvalidTimezone``, ...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)

    name: str
    cron: str
    timezone: str = "UTC"
    user_id: str
    priority: int = Priority.NORMAL
    handler: str | None = None
    payload: Any = None
    max_attempts: int | None = None
    enabled: bool = True
    missed: MissedRuns = MissedRuns.SKIP
    catch_up_max: int = Field(default=10, ge=1, le=10_000)
    misfire_grace_seconds: float = Field(default=5.0, gt=0)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, FairQueueError):
                    raise cause from None
            raise FairQueueError(_describe(exc)) from None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        try:
            check_task_id(v)  # schedule names go into task ids
        except InvalidTaskId:
            raise InvalidTaskId(
                f"schedule name {v!r} is malformed: 1-100 characters from A-Z a-z 0-9 . _ : @ -"
            ) from None
        if len(v) > 100:
            raise InvalidTaskId(f"schedule name is {len(v)} characters; at most 100")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        check_timezone(v)
        return v

    @field_validator("user_id")
    @classmethod
    def _user(cls, v: str) -> str:
        return check_user_id(v)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, v: Any) -> int:
        return check_priority(v)

    @field_validator("handler")
    @classmethod
    def _handler(cls, v: str | None) -> str | None:
        return None if v is None else check_handler_name(v)

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, v: int | None) -> int | None:
        return None if v is None else check_max_attempts(v)

    @field_validator("payload")
    @classmethod
    def _payload(cls, v: Any) -> Any:
        encode_json(v)
        return v

    @model_validator(mode="after")
    def _cron(self) -> ScheduledTask:
        check_cron(self.cron, self.timezone)
        return self

    def task_id(self, fire_time: datetime) -> str:
        """The id of the task for one fire time: the same for every scheduler process, so a
        fire time pushed twice is pushed once (push is idempotent)."""
        return f"sched.{self.name}.{round(fire_time.timestamp() * 1000)}"


def _describe(exc: pydantic.ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return "invalid schedule: " + "; ".join(parts)
