"""The in-memory rate limiter: a sliding window of hit times per key, for a bot that runs as one process."""

from __future__ import annotations

from collections import deque

from core.ports import Clock

_SWEEP_AT = 10_000  # keys held before the idle ones are dropped (each key is one person and one kind of command)


class MemoryRateLimiter:
    """Exact sliding window: at most `limit` hits in any `window_s` seconds. No await inside hit(), so two
    commands of one event loop never interleave between the count and the add."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._longest = 0.0  # the longest window asked for: a key idle for that long holds nothing that counts

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        now = self.clock.now().timestamp()
        self._longest = max(self._longest, window_s)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= limit:
            return hits[0] + window_s - now
        hits.append(now)
        if len(self._hits) > _SWEEP_AT:
            self._sweep(now)
        return None

    def _sweep(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self._longest]:
            del self._hits[key]
