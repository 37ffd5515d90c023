"""Rate limiters for incoming commands (core.ports.RateLimiter): in this process's memory, or in Redis."""

from adapters.limits.memory import MemoryRateLimiter

__all__ = ["MemoryRateLimiter"]
