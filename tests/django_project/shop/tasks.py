"""The shop's tasks: plain Django tasks, nothing fairque-specific."""

import os

import redis

try:
    from django.tasks import task
except ImportError:  # before Django 6: the backport
    from django_tasks import task

QUEUE = "django-shop"


@task(queue_name=QUEUE)
def add(a: int, b: int) -> int:
    return a + b


@task(queue_name=QUEUE)
def explode(message: str) -> None:
    raise ValueError(message)


@task(queue_name=QUEUE, priority=50)
def urgent(label: str) -> str:
    return label


@task(queue_name=QUEUE)
def record(label: str) -> int:
    """The order it ran in, across workers (a counter on the server)."""
    client = redis.Redis.from_url(os.environ["FAIRQUE_REDIS_URL"])
    try:
        return int(client.incr("shop-test:order"))
    finally:
        client.close()


@task(queue_name=QUEUE, takes_context=True)
def attempt(context, label: str) -> list:
    return [label, context.attempt, context.task_result.id]


@task(queue_name=QUEUE)
async def async_add(a: int, b: int) -> int:
    return a + b
