"""Each person's time zone (/tz): the zone of the times they type ("at 09:00") and of the times they are shown."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from core.commands import TimeZone
from core.errors import UserError
from core.ports import UnitOfWork
from core.replies import Reply, bold, code
from core.services import Services

UTC = "UTC"


@lru_cache(maxsize=1)
def _by_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def zone_name(text: str) -> str:
    """The IANA name for `text` in any letter case ("europe/berlin" -> "Europe/Berlin"); UserError naming the
    problem when there is no such zone."""
    wanted = text.strip()
    name = _by_lower().get(wanted.lower()) or ("UTC" if wanted.upper() in {"UTC", "GMT", "Z"} else None)
    if name is None:
        hint = " Give a region and city, e.g. Europe/Berlin or America/New_York." if "/" not in wanted else ""
        raise UserError(f"zone: {wanted[:40]!r} is not a time zone I know.{hint}", field="zone")
    return name


async def zone_of(uow: UnitOfWork, ref: str) -> ZoneInfo:
    """The zone `ref` set with /tz, else UTC."""
    user = await uow.users.get(ref)
    try:
        return ZoneInfo(user.tz if user is not None and user.tz else UTC)
    except (ZoneInfoNotFoundError, ValueError):  # a zone this machine's tzdata no longer has
        return ZoneInfo(UTC)


async def tz(s: Services, cmd: TimeZone) -> Reply:
    """/tz shows the caller's zone; /tz <zone> sets it."""
    await s.remember(cmd.actor)
    async with s.uow() as uow:
        user = await uow.users.get(cmd.actor.ref)
        current = user.tz if user is not None and user.tz else UTC
        if cmd.zone is None:
            return Reply.of(("Your time zone is ", bold(current), "."), ("Change it with ", code("/tz Europe/Berlin"), "."))
        name = zone_name(cmd.zone)
        if user is None:  # remember() stored them a moment ago; gone only if the database was reset meanwhile
            raise UserError("Send /start first, then set your time zone.")
        user.tz = name
        await uow.users.save(user)
        await uow.commit()
    now = s.clock.now().astimezone(ZoneInfo(name))
    return Reply.of(("Time zone set to ", bold(name), f" (it is {now:%H:%M} there now)."),
                    "Times you type, such as “at 09:00”, and times I show you are in this zone.")
