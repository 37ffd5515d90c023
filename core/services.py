"""What every handler may use: the ports, the policy, and small helpers shared between handlers."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from core.commands import Actor, Recipient
from core.errors import UserError
from core.model import User
from core.money import Token
from core.ports import Chain, Clock, JobQueue, Mixer, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("snowrail.engine")

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: ids get read aloud and retyped


def new_id(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def new_intent_hash() -> str:
    return "0x" + secrets.token_hex(32)


@dataclass(frozen=True)
class Policy:
    """Operator-set rules: who may spend, when a payment needs a second look, how long to wait."""

    operators: frozenset[str] = frozenset()
    confirm_above: dict[str, int] = field(default_factory=dict)  # token symbol -> base units
    receipt_timeout: float = 30.0
    stuck_after: timedelta = timedelta(minutes=3)
    challenge_ttl: timedelta = timedelta(minutes=15)
    bot_name: str = "SnowRail"

    def is_operator(self, actor: Actor | str) -> bool:
        if isinstance(actor, Actor):
            return actor.operator or actor.ref in self.operators
        return actor in self.operators


@dataclass
class Services:
    chain: Chain
    uow: UnitOfWorkFactory
    clock: Clock
    policy: Policy
    queue: JobQueue | None = None
    mixer: Mixer | None = None  # None: this bot serves no privacy pool
    _known: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    async def remember(self, actor: Actor) -> None:
        """Keep the user's identity current; skips the write when nothing changed since last time."""
        seen = (actor.display_name, (actor.handle or "").lower() or None)
        if self._known.get(actor.ref) == seen:
            return
        async with self.uow() as uow:
            await uow.users.upsert(
                User(
                    ref=actor.ref,
                    platform=actor.platform,
                    platform_user_id=actor.user_id,
                    display_name=actor.display_name,
                    handle=seen[1],
                    created_at=self.clock.now(),
                )
            )
            await uow.commit()
        self._known[actor.ref] = seen

    def token(self, symbol: str) -> Token:
        return self.chain.tokens.get(symbol)

    def notify_soon(self) -> None:
        if self.queue is not None:
            self.queue.enqueue("deliver_notifications", job_id=None)


async def resolve_recipient(uow: UnitOfWork, recipient: Recipient) -> tuple[str, str | None]:
    """-> (address, the user ref behind it if we know one). UserError when a handle has no wallet."""
    if recipient.address:
        owners = await uow.users.by_wallet(recipient.address)
        return recipient.address, owners[0].ref if owners else None
    if recipient.user_ref:
        user = await uow.users.get(recipient.user_ref)
        if user is None or not user.wallet:
            raise UserError(
                "address: that person has not linked a wallet yet; ask them to send /link <their address>",
                field="address",
            )
        return user.wallet, user.ref
    users = [u for u in await uow.users.by_handle(recipient.handle or "") if u.wallet]
    if not users:
        raise UserError(
            f"address: @{recipient.handle} has no linked wallet here; ask them to send /link <their address>, "
            "or pay an address",
            field="address",
        )
    if len({u.wallet for u in users}) > 1:
        raise UserError(f"address: @{recipient.handle} is ambiguous here; pay their address instead", field="address")
    return users[0].wallet or "", users[0].ref
