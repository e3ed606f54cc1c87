"""``@task``: register a handler by name, and get back a handle to push it with.

    class ResizeIn(BaseModel):
        image: str
        width: int

    @task("resize")
    async def resize(job: ResizeIn) -> ResizeOut: ...

    handle = resize.push(q, "acme", ResizeIn(image="a.png", width=64))   # or a dict
    out: ResizeOut = handle.result(timeout=10)

A handler takes the :class:`Task` (``def resize(task: Task)``), or a pydantic model: then
``push`` validates the payload before anything is written (``InvalidPayload`` naming the
field), the worker hands the handler the model, and ``result()`` returns the result model.
``mypy --strict`` checks the payload's type at the call site. The decorated function stays
callable as it was.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, overload

import pydantic

from fairque.core.exceptions import InvalidPayload
from fairque.core.models import AfterPolicy, Debounce, Priority, Task
from fairque.queue.async_fairqueue import AsyncTaskQueue
from fairque.queue.async_handle import AsyncTaskHandle
from fairque.queue.fairqueue import TaskQueue
from fairque.queue.handle import TaskHandle
from fairque.worker.handlers import BatchSpec, BoundHandler, HandlerRegistry, registry

In = TypeVar("In")
Out = TypeVar("Out")
M = TypeVar("M", bound=pydantic.BaseModel)


class PayloadRejected(InvalidPayload):
    """A typed task's payload does not fit its model (at the worker: it is never retried)."""


def _field_error(name: str, exc: pydantic.ValidationError) -> str:
    """Every field at fault (the first three), each with what is wrong with it."""
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(the payload)'}: {e['msg']}"
        for e in exc.errors()[:3]
    ]
    more = f"; and {exc.error_count() - 3} more" if exc.error_count() > 3 else ""
    return f"task {name!r}: payload field {'; '.join(parts)}{more}"


def _models(fn: Callable[..., Any]) -> tuple[type[Any] | None, type[Any] | None]:
    """The pydantic models of ``fn``'s first parameter and of its result, if it names any."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve here: take the task as it is
        return None, None
    params = list(inspect.signature(fn).parameters.values())
    first = hints.get(params[0].name) if params else None
    result = hints.get("return")

    def model(t: Any) -> type[Any] | None:
        is_model = isinstance(t, type) and issubclass(t, pydantic.BaseModel)
        return t if is_model and not issubclass(t, Task) else None

    return model(first), model(result)


class TaskRef(Generic[In, Out]):
    """A registered handler and the way to push it: ``push``/``apush`` return a handle whose
    ``result()`` is typed ``Out``; the payload is typed ``In`` (a model, or anything JSON
    for a handler of the :class:`Task`)."""

    def __init__(self, name: str, fn: Callable[..., Any], batch: BatchSpec | None = None) -> None:
        functools.update_wrapper(self, fn)
        self.name = name
        self.fn = fn
        self.payload_model, self.result_model = (None, None) if batch else _models(fn)
        self.__fairque_task__ = name
        process: Callable[[Any], Any]
        if batch is not None:  # called with the list of tasks: results pass through as given
            process = self._abatch if inspect.iscoroutinefunction(fn) else self._batch
        else:
            process = self._aprocess if inspect.iscoroutinefunction(fn) else self._process
        self.__fairque_bound__ = BoundHandler(name, process, batch=batch)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name!r}: {getattr(self.fn, '__qualname__', self.fn)}>"

    # -- producing -----------------------------------------------------------------------------

    def payload_json(self, payload: In) -> Any:
        """The payload as stored: a model (or what validates into one) as JSON data.

        Raises:
            InvalidPayload: it does not fit the model (the message names the field).
        """
        model = self.payload_model
        if model is None:
            return payload
        try:
            value = payload if isinstance(payload, model) else model.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise InvalidPayload(_field_error(self.name, exc)) from None
        return value.model_dump(mode="json")

    def create(
        self,
        user_id: str,
        payload: In,
        *,
        priority: Priority | int = Priority.NORMAL,
        task_id: str | None = None,
        delay: float | None = None,
        execute_after: datetime | None = None,
        max_attempts: int | None = None,
        tenant: str | None = None,
        cost: float | None = None,
        after: Sequence[Any] | Any = None,
        after_policy: AfterPolicy = "all_complete",
        unique_key: str | None = None,
        debounce: Debounce | tuple[str, float, float] | None = None,
    ) -> Task:
        """A task of this handler for ``user_id`` (validated: see :meth:`Task.create`);
        ``after`` takes task ids or handles."""
        return Task.create(
            user_id, priority, self.payload_json(payload), task_id=task_id,
            execute_after=execute_after, handler=self.name, max_attempts=max_attempts,
            delay=delay, tenant=tenant, cost=cost, after=after, after_policy=after_policy,
            unique_key=unique_key, debounce=debounce,
        )  # fmt: skip

    def push(self, queue: TaskQueue, user_id: str, payload: In, **options: Any) -> TaskHandle[Out]:
        """Push a task of this handler; returns its handle (``.result()``, ``.cancel()``,
        ``.info()``). ``options`` as :meth:`create`."""
        pushed = queue.push(self.create(user_id, payload, **options))
        return TaskHandle(queue, pushed.task_id, created=pushed.created, decode=self.decode)

    async def apush(
        self, queue: AsyncTaskQueue, user_id: str, payload: In, **options: Any
    ) -> AsyncTaskHandle[Out]:
        """:meth:`push` on an ``AsyncTaskQueue``."""
        pushed = await queue.push(self.create(user_id, payload, **options))
        return AsyncTaskHandle(queue, pushed.task_id, created=pushed.created, decode=self.decode)

    @overload
    def handle(self, queue: TaskQueue, task_id: str) -> TaskHandle[Out]: ...
    @overload
    def handle(self, queue: AsyncTaskQueue, task_id: str) -> AsyncTaskHandle[Out]: ...
    def handle(
        self, queue: TaskQueue | AsyncTaskQueue, task_id: str
    ) -> TaskHandle[Out] | AsyncTaskHandle[Out]:
        """The handle of a task of this handler pushed earlier (by any process), by id."""
        if isinstance(queue, AsyncTaskQueue):
            return AsyncTaskHandle(queue, task_id, decode=self.decode)
        return TaskHandle(queue, task_id, decode=self.decode)

    def decode(self, stored: Any) -> Out:
        """A stored result as this handler's result type (its model, when it names one)."""
        model = self.result_model
        return model.model_validate(stored) if model is not None else stored  # type: ignore[no-any-return]

    # -- running (the worker calls these) --------------------------------------------------

    def _argument(self, task: Task) -> Any:
        model = self.payload_model
        if model is None:
            return task
        try:
            return model.model_validate(task.payload)
        except pydantic.ValidationError as exc:
            raise PayloadRejected(_field_error(self.name, exc)) from None

    @staticmethod
    def _stored(result: Any) -> Any:
        return result.model_dump(mode="json") if isinstance(result, pydantic.BaseModel) else result

    def _process(self, task: Task) -> Any:
        return self._stored(self.fn(self._argument(task)))

    async def _aprocess(self, task: Task) -> Any:
        return self._stored(await self.fn(self._argument(task)))

    def _batch(self, tasks: list[Task]) -> Any:
        return _stored_each(self.fn(tasks))

    async def _abatch(self, tasks: list[Task]) -> Any:
        return _stored_each(await self.fn(tasks))


def _stored_each(results: Any) -> Any:
    """A batch handler's results as stored (models as JSON data; exceptions as they are)."""
    if not isinstance(results, list | tuple):
        return results
    return [r.model_dump(mode="json") if isinstance(r, pydantic.BaseModel) else r for r in results]


class _Register:
    """What ``@task(...)`` applies to the function (typed per handler shape)."""

    def __init__(
        self, name: str | None, into: HandlerRegistry | None, batch: BatchSpec | None = None
    ) -> None:
        self.name = name
        self.into = into
        self.batch = batch

    @overload
    def __call__(self, fn: Callable[[Task], Awaitable[Out]]) -> TaskRef[Any, Out]: ...
    @overload
    def __call__(self, fn: Callable[[Task], Out]) -> TaskRef[Any, Out]: ...
    @overload
    def __call__(self, fn: Callable[[M], Awaitable[Out]]) -> TaskRef[M, Out]: ...
    @overload
    def __call__(self, fn: Callable[[M], Out]) -> TaskRef[M, Out]: ...
    @overload
    def __call__(self, fn: Callable[..., Awaitable[Out]]) -> TaskRef[Any, Out]: ...
    @overload
    def __call__(self, fn: Callable[..., Out]) -> TaskRef[Any, Out]: ...
    def __call__(self, fn: Callable[..., Any]) -> TaskRef[Any, Any]:
        ref: TaskRef[Any, Any] = TaskRef(self.name or fn.__name__, fn, self.batch)
        (self.into or registry).register(ref.name, ref)
        return ref


def task(
    name: str | None = None,
    *,
    into: HandlerRegistry | None = None,
    batch_size: int | None = None,
    batch_wait: float = 0.5,
    batch_by: Literal["user", "handler"] = "user",
) -> _Register:
    """Register the decorated function (sync or ``async``) as the handler called ``name``
    (default: the function's name) and return its :class:`TaskRef`.

    With ``batch_size``, the function is a batch handler: called with a list of up to
    ``batch_size`` tasks (of one user, or of any users with ``batch_by="handler"``) once the
    batch is full or its first task has waited ``batch_wait`` seconds; it returns one result
    per task, in order (an exception instance fails that task), or None
    (:mod:`fairque.worker.batches`)."""
    batch = None if batch_size is None else BatchSpec(batch_size, batch_wait, batch_by)
    return _Register(name, into, batch)
