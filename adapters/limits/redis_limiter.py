"""The Redis rate limiter: one sorted set of hit times per key, shared by every bot process on the same Redis."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.errors import TransientError

# A sliding log rather than a fixed-window counter (INCR + PEXPIRE): a fixed window lets twice the limit through
# around a window's edge (4 payout files within seconds under "2 per 5 minutes"), and the wait it would report is
# the window's end, not when a slot really frees. The log holds at most `limit` entries per key and one script is
# still a single atomic round trip. Times come from Redis (TIME), so bot processes with skewed clocks agree.
_HIT = """
local key, limit, window_ms = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window_ms)
  return -1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window_ms - now
"""

PREFIX = "snowrail:ratelimit:"


class RedisRateLimiter:
    """`timeout`: seconds a command waits for Redis before the check is given up (core then lets it through)."""

    def __init__(self, url: str, *, prefix: str = PREFIX, timeout: float = 0.5) -> None:
        self.prefix = prefix
        self.redis: Redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._hit = self.redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        window_ms = max(1, round(window_s * 1000))
        try:
            # The member only has to be unique: two hits in one millisecond are two entries.
            wait_ms = await self._hit(keys=[self.prefix + key], args=[limit, window_ms, secrets.token_hex(6)])
        except RedisError as e:
            raise TransientError(type(e).__name__, service="rate limiter (Redis)") from None
        return None if int(wait_ms) < 0 else max(int(wait_ms), 1) / 1000

    async def close(self) -> None:
        await self.redis.aclose()
