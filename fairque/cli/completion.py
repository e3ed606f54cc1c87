"""Shell completion of values that live in the server (user names)."""

from __future__ import annotations

import click

from fairque.cli.global_options import completion_context


def complete_users(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """The users with the most backlog that start with ``incomplete`` (one round trip)."""
    try:
        config = completion_context(ctx).config()
        fast = config.redis.model_copy(update={"socket_connect_timeout": 0.5})
        config = config.model_copy(update={"redis": fast})
        from fairque.queue import TaskQueue  # only when completing a user name
        from fairque.queue.ops import gather
        from fairque.queue.reads import busiest_users

        with TaskQueue(config) as q:  # every partition's busiest users, in one step
            tops = q.run(gather([busiest_users(s, 200) for s in q.parts.sessions]))
        names = {n for top in tops for n in top}
        return sorted(n for n in names if n.startswith(incomplete))
    except Exception:  # completion must never print a traceback into the shell
        return []
