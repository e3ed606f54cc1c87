"""``@task`` gives back a handle to push with: a typed payload is validated before anything
is written, the worker hands the handler its model, and ``result()`` returns the result
model; a handler of the plain Task keeps working, and the function stays callable."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from fairque import AsyncTaskQueue, AsyncWorker, Task, TaskQueue, Worker
from fairque.core.exceptions import InvalidPayload
from fairque.worker import HandlerRegistry, task


class ResizeIn(BaseModel):
    image: str
    width: int


class ResizeOut(BaseModel):
    image: str
    pixels: int


registry = HandlerRegistry()


@task("resize", into=registry)
def resize(job: ResizeIn) -> ResizeOut:
    return ResizeOut(image=job.image, pixels=job.width * job.width)


@task(into=registry)
async def thumbnail(job: ResizeIn) -> ResizeOut:
    await asyncio.sleep(0)
    return ResizeOut(image="thumb-" + job.image, pixels=job.width)


@task("echo", into=registry)
def echo(t: Task) -> dict[str, object]:
    return {"user": t.user_id, "payload": t.payload}


def test_the_decorated_functions_stay_callable_and_are_named():
    assert resize(ResizeIn(image="a", width=2)) == ResizeOut(image="a", pixels=4)
    assert thumbnail.name == "thumbnail" and registry.names() == ["echo", "resize", "thumbnail"]


def test_a_payload_that_does_not_fit_is_refused_naming_the_field(make_queue, nothing_written):
    q = make_queue()
    with nothing_written(), pytest.raises(InvalidPayload, match="width"):
        resize.push(q, "u1", {"image": "a.png", "width": "wide"})  # type: ignore[arg-type]
    with pytest.raises(InvalidPayload, match="image"):
        resize.create("u1", {"width": 3})  # type: ignore[arg-type]


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_models_go_in_and_come_out(make_config, worker_kind):
    config = make_config()
    with TaskQueue(config) as q:
        big = resize.push(q, "u1", ResizeIn(image="a.png", width=8))
        small = thumbnail.push(q, "u2", ResizeIn(image="b.png", width=3), priority=5)
        plain = echo.push(q, "u3", {"k": [1, 2]})
        assert big.created is True
        assert q.get_task(big.task_id).payload == {"image": "a.png", "width": 8}
        w = (Worker if worker_kind == "sync" else AsyncWorker)(config, handlers=registry)
        if worker_kind == "sync":
            w.run(burst=True)
        else:
            asyncio.run(w.run(burst=True))
        assert big.result(timeout=5) == ResizeOut(image="a.png", pixels=64)
        assert small.result(timeout=5) == ResizeOut(image="thumb-b.png", pixels=3)
        assert plain.result(timeout=5) == {"user": "u3", "payload": {"k": [1, 2]}}
        # From another process, by id: the same typed result.
        again = resize.handle(q, big.task_id)
        assert again.result(timeout=1).pixels == 64 and again.info().state == "completed"


def test_a_payload_pushed_around_the_model_dies_without_retries(make_config):
    config = make_config()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload={"image": 1}, handler="resize", task_id="bad"))
        Worker(config, handlers=registry).run(burst=True)
        info = q.get_task("bad")
    assert info.state == "dead" and info.attempts == 1 and info.error_type == "PayloadRejected"
    assert "width" in info.error


def test_the_async_handle_of_an_async_queue(make_config):
    config = make_config()

    async def main() -> ResizeOut:
        async with AsyncTaskQueue(config) as q, AsyncWorker(config, handlers=registry):
            handle = await resize.apush(q, "u1", ResizeIn(image="c.png", width=2))
            assert (await handle.info()) is not None
            return await handle.result(timeout=10)

    assert asyncio.run(main()) == ResizeOut(image="c.png", pixels=4)
