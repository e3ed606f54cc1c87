"""How a process calls the Lua scripts: ``FCALL`` of fairque's function library, or
``EVALSHA`` of each script.

The library (:mod:`fairque.scripts.library`) defines the scripts' helpers once, when it
loads, instead of on every call: 10-20 µs less server time per call. It needs ``FUNCTION
LOAD`` once per server (and ``FCALL`` after that); an account that may not (an ACL without
``@scripting`` functions, a managed service that renamed the command) makes this process
fall back to EVALSHA, with one warning, and go on. ``redis.scripts = "eval"`` chooses
EVALSHA from the start.

Either way a call the server answers "not loaded" (``NOSCRIPT``, ``Function not found``: a
restarted or failed-over server, a ``FUNCTION FLUSH``) did not run; the transports load what
it named and send it again.
"""

from __future__ import annotations

import logging
from typing import Literal

import redis.exceptions as rex

from fairque.queue.ops import ScriptCall
from fairque.scripts import ScriptShas, load_script
from fairque.scripts.library import library, library_function
from fairque.scripts.protocol import Arg

log = logging.getLogger("fairque.queue")


class Scripting:
    """The way this process calls the scripts, switched to EVALSHA once if the server
    refuses functions."""

    def __init__(self, mode: Literal["functions", "eval"]) -> None:
        self.functions = mode == "functions"
        self._shas = ScriptShas()  # each script composed when first called

    def args(self, call: ScriptCall) -> tuple[Arg, ...]:
        """``call`` as one command: FCALL of its function, or EVALSHA of its script (as a plain
        command, which redis-py's cluster pipelines route by the first key)."""
        if self.functions:
            name = library_function(call.script)
            return ("FCALL", name, len(call.keys), *call.keys, *call.args)
        return ("EVALSHA", self._shas[call.script], len(call.keys), *call.keys, *call.args)

    def load_args(self, call: ScriptCall) -> tuple[str, ...]:
        """The command that puts what ``call`` needs on a server: the whole library (REPLACE:
        loading it twice is harmless, and on a cluster one node may hold it and another not),
        or the one script. The command's name is one word, as redis-py's cluster clients look
        it up to send it to every primary."""
        if self.functions:
            return ("FUNCTION LOAD", "REPLACE", library().source)
        return ("SCRIPT LOAD", load_script(call.script).source)

    def refused(self, exc: object) -> bool:
        """Whether ``exc`` is the server refusing functions: this process then falls back to
        EVALSHA (True: send the call again)."""
        if not self.functions or not functions_refused(exc):
            return False
        log.warning("the server refused Lua functions (%s): calling the scripts with EVALSHA", exc)
        self.functions = False
        return True


def unloaded(reply: object) -> bool:
    """The server does not hold the script or library a call named: the call did not run,
    so sending it again after loading is safe."""
    if isinstance(reply, rex.NoScriptError):
        return True
    return isinstance(reply, rex.ResponseError) and str(reply).startswith("Function not found")


def functions_refused(reply: object) -> bool:
    """The server refused FCALL or FUNCTION LOAD (the call did not run)."""
    if not isinstance(reply, rex.ResponseError):
        return False
    text = str(reply).lower()
    if "unknown command" in text:
        return "fcall" in text or "function" in text
    # An ACL refusing the commands names them; one refusing keys would refuse EVALSHA too.
    return isinstance(reply, rex.NoPermissionError) and ("fcall" in text or "function" in text)
