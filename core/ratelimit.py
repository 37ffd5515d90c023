"""Rate limits on incoming commands: the rates, which one a command counts against, and the refusal it gets."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from core.commands import Bulk, Command, Pay
from core.errors import TransientError
from core.ports import RateLimiter

log = logging.getLogger("snowrail.ratelimit")

RATE_FORM = "N/<number><s|m|h>, e.g. 10/1m or 2/5m; 0 or off disables"
_UNITS = {"s": 1, "m": 60, "h": 3600}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*([smh])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Rate:
    """At most `count` commands in any `window_s` seconds."""

    count: int
    window_s: int  # whole seconds: the settings' form has no fractions

    def __str__(self) -> str:
        for unit, seconds in (("hour", 3600), ("minute", 60), ("second", 1)):
            if self.window_s % seconds == 0:
                n = self.window_s // seconds
                return f"{self.count} per {unit}" if n == 1 else f"{self.count} per {n} {unit}s"
        return f"{self.count} per {self.window_s} seconds"


def parse_rate(text: str) -> Rate | None:
    """"10/1m" -> Rate(10, 60); "0", "off" or a zero count -> None (no limit). ValueError names the allowed form."""
    if text.strip().lower() in ("0", "off"):
        return None
    m = _RATE.match(text)
    if m is None or int(m.group(2)) == 0:
        raise ValueError(f"“{text.strip()[:30]}” should look like {RATE_FORM}")
    count = int(m.group(1))
    return Rate(count, int(m.group(2)) * _UNITS[m.group(3).lower()]) if count else None


@dataclass(frozen=True)
class RateLimits:
    """Per person (platform identity): `/pay`, payout-file uploads, and every other command. None = no limit."""

    pay: Rate | None = Rate(10, 60)
    bulk_upload: Rate | None = Rate(2, 300)
    default: Rate | None = Rate(30, 60)


@dataclass
class CommandLimits:
    """Counts each command against its rate in `limiter` (shared by every process when it is Redis)."""

    limiter: RateLimiter | None  # None: nothing is limited (unit tests, benchmarks of other things)
    rates: RateLimits = field(default_factory=RateLimits)

    async def refusal(self, cmd: Command) -> str | None:
        """None if `cmd` may run (and it is counted), else the reply that says when to retry (not counted)."""
        if self.limiter is None:
            return None
        bucket, what, rate = self._rate_of(cmd)
        if rate is None:
            return None
        try:
            wait = await self.limiter.hit(f"{bucket}:{cmd.actor.ref}", rate.count, rate.window_s)
        except TransientError as e:
            # Fail open: these limits slow floods down, they guard no money (the spending controls live in the
            # database and on chain), so an unreachable Redis must not stop every command of every user.
            log.warning("rate limit not checked for %s: %s unavailable (%s)", bucket, e.service, e.message)
            return None
        if wait is None:
            return None
        return f"Too many {what}: {rate}. Try again in {_seconds(wait)}."

    def rate_of(self, cmd: Command) -> tuple[str, Rate | None]:
        """The bucket `cmd` counts in ("pay", "bulk-upload", "default") and its rate (None: not limited)."""
        bucket, _, rate = self._rate_of(cmd)
        return bucket, rate

    def _rate_of(self, cmd: Command) -> tuple[str, str, Rate | None]:
        if isinstance(cmd, Pay):
            return "pay", "/pay commands", self.rates.pay
        if isinstance(cmd, Bulk) and cmd.action == "upload":  # an attachment, or the console's /bulk upload PATH
            return "bulk-upload", "/bulk uploads", self.rates.bulk_upload
        return "default", "commands", self.rates.default


def _seconds(wait: float) -> str:
    s = max(1, math.ceil(wait))
    return f"{s} s" if s < 120 else f"{s // 60} min {s % 60} s"
