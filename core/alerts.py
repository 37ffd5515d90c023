"""Security alerts: a `security_alert` DM to every admin, through the outbox, exactly once per event.

Each alert is one outbox row per admin under the dedup key "<event key>:<admin ref>", so the same event seen
again (a redelivered message, a second process, the next reconcile pass) adds nothing. Where the event changes
stored state, the caller writes the alert in that same transaction (`alert_admins`); a refusal or a reading
changes nothing, so its alert gets a transaction of its own (`raise_alert`). Alerts name what happened, who and
the amounts; never a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.commands import Actor
from core.errors import ChainUnavailable, TransientError
from core.guard import Removal
from core.model import Notification, NotificationType
from core.money import Token, format_units
from core.ports import UnitOfWork
from core.replies import Reply, Span, bold, code, dumps
from core.roles import Role
from core.services import Services, log


def security_alert(what: str, *lines: str | tuple[str | Span, ...]) -> Reply:
    """"Security alert: <what>", then the details; private (it goes by DM)."""
    return Reply.of((bold("Security alert"), f": {what}"), *lines, private=True)


async def admin_refs(uow: UnitOfWork, s: Services) -> list[str]:
    """Everyone who is an admin now: the ADMINS setting, and admins made in chat."""
    granted = {g.user_ref for g in await uow.roles.all() if g.role is Role.ADMIN}
    return sorted(set(s.policy.admins) | granted)


async def alert_admins(uow: UnitOfWork, s: Services, key: str, reply: Reply, *, also: Iterable[str] = ()) -> int:
    """Queue `reply` for every admin (and `also`, e.g. a demoted admin) in the caller's transaction; the caller
    commits, then calls s.notify_soon(). Returns how many rows were offered (a repeat of `key` adds none)."""
    now, body = s.clock.now(), dumps(reply)
    refs = sorted(set(await admin_refs(uow, s)) | set(also))
    for ref in refs:
        await uow.outbox.add(Notification(f"{key}:{ref}", ref, NotificationType.SECURITY_ALERT, body, now))
    return len(refs)


async def raise_alert(s: Services, key: str, reply: Reply) -> bool:
    """An alert for an event that stores nothing else, in a transaction of its own. Never raises: the event it
    reports has happened either way (a refusal stands), so a database outage is logged, not passed on."""
    try:
        async with s.uow() as uow:
            offered = await alert_admins(uow, s, key, reply)
            await uow.commit()
    except TransientError as e:
        log.warning("security alert %s not queued: %s unavailable", key.split(":", 1)[0], e.service)
        return False
    if offered:  # no admins configured: nothing to deliver
        s.notify_soon()
    return True


def who(actor: Actor) -> str:
    """"@alice (telegram:123)", or "Alice (telegram:123)", or the bare ref."""
    label = f"@{actor.handle}" if actor.handle else actor.display_name
    return f"{label} ({actor.ref})" if label else actor.ref


def _bucket(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) // max(seconds, 1)


# ---------------------------------------------------------------- the triggers
async def limit_hit(s: Services, actor: Actor, command: str, refusal: str, bucket: str, window_s: int) -> bool:
    """A rate limit refused `actor`: at most one alert per person, limit and window (a flood is one alert)."""
    key = f"ratelimit:{bucket}:{actor.ref}:{_bucket(s.clock.now(), window_s)}"
    reply = security_alert(
        "rate limit hit",
        f"{who(actor)} was refused /{command}: {refusal}",
        "Further refusals of theirs in this window are not announced again.",
    )
    return await raise_alert(s, key, reply)


async def allowance_hit(s: Services, actor: Actor, command: str, key: str, refusal: str) -> bool:
    """The executor's on-chain allowance refused a command before anything was signed (`refusal` names the cap,
    what is left, what was needed and when it refills). Once per command message."""
    reply = security_alert("on-chain allowance hit", f"{who(actor)} was refused /{command}. {refusal}")
    return await raise_alert(s, f"allowance:{key}", reply)


async def secret_removed(s: Services, actor: Actor, key: str, where: str, what: str, removal: Removal) -> bool:
    """A mixer note or private key was seen in a public message (the secret itself is never repeated)."""
    outcome = {
        Removal.DELETED: "I deleted the message",
        Removal.GONE: "the message had been deleted already",
        Removal.REFUSED: "I could NOT delete it (the bot lacks the right there): delete it now",
    }[removal]
    reply = security_alert(
        f"a pasted {what} was seen",
        f"{who(actor)} posted what looks like a {what} in {where}; {outcome}.",
        f"They were warned privately that the {what} is exposed.",
    )
    return await raise_alert(s, f"secret:{key}", reply)


async def foreign_guild(s: Services, actor: Actor, guild_id: int, what: str) -> bool:
    """An interaction from a Discord server outside DISCORD_GUILD_IDS (refused, nothing done). At most one alert
    per person and server an hour, so a stranger pressing away cannot flood the admins' DMs."""
    key = f"foreign-guild:{guild_id}:{actor.ref}:{_bucket(s.clock.now(), 3600)}"
    reply = security_alert(
        "interaction from an unknown Discord server",
        (f"{who(actor)} used {what} from server ", code(str(guild_id)),
         ", which is not in DISCORD_GUILD_IDS. It was refused; nothing was done."),
        "Their further attempts from that server this hour are not announced again.",
    )
    return await raise_alert(s, key, reply)


async def check_balances(s: Services, tokens: Iterable[Token] | None = None) -> int:
    """Alert when the treasury (per token) or the executor's gas (the native token) is below LOW_BALANCE_ALERT.
    Once per account, token and UTC day while it stays below. `tokens`: only those (after a payment in one);
    None: every token with a threshold. Never raises; returns how many balances are low."""
    floors, gas_floor = s.policy.low_balance, s.policy.low_gas
    if not floors and gas_floor is None:
        return 0
    wanted = {t.symbol for t in tokens} if tokens is not None else None
    checks: list[tuple[str, str, Token, int]] = [
        ("treasury", s.chain.treasury, s.token(sym), floor)
        for sym, floor in sorted(floors.items()) if wanted is None or sym in wanted
    ]
    if gas_floor is not None:  # every transaction spends gas, whatever token it pays
        checks.append(("executor", s.chain.executor, s.chain.tokens.native, gas_floor))
    low = 0
    for account, address, token, floor in checks:
        try:
            held = await s.chain.balance(address, token)
        except ChainUnavailable:
            log.warning("low-balance check of the %s's %s skipped: chain unavailable", account, token.symbol)
            continue
        if held >= floor:
            continue
        low += 1
        d = token.decimals
        role = ("the treasury", "pays every payment out of it") if account == "treasury" else (
            "the executor (the bot's key)", "pays every transaction's gas with it")
        reply = security_alert(
            f"low {token.symbol} balance",
            (f"{role[0].capitalize()} ", code(address), f" holds {format_units(held, d)} {token.symbol}, below "
             f"LOW_BALANCE_ALERT's {format_units(floor, d)} {token.symbol}; it {role[1]}. Top it up."),
        )
        await raise_alert(s, f"low-balance:{account}:{token.symbol}:{s.clock.now():%Y-%m-%d}", reply)
    return low
