"""fairque, the asyncio worker (4 at once): results with TaskQueue.result."""

from __future__ import annotations

import fairque_latency

if __name__ == "__main__":
    fairque_latency.main("asyncio")
