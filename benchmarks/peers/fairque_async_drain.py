"""fairque: asyncio workers, 32 tasks at once per process."""

from __future__ import annotations

from fairque_drain import main

if __name__ == "__main__":
    main(name="fairque_async", use_async=True)
