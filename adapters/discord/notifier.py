"""DMs from worker processes: REST only (no gateway), with the bot token alone, within Discord's rate limits; and
the one place a Discord 429 becomes core.delivery.RetryAfter."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TypeVar

import discord

from adapters.discord.buttons import link_view, view
from adapters.discord.identity import user_ref_user_id
from adapters.discord.render import NO_MENTIONS, Part, parts
from core.delivery import RetryAfter, patiently
from core.ports import Delivery
from core.replies import Reply

log = logging.getLogger("snowrail.discord.dm")

T = TypeVar("T")

CLOSED_DMS = {50007, 50278}  # cannot send messages to this user; not sharing a guild any more
MAX_WAIT = 30.0  # a 429 asking for longer than this is handed back as retry_after, not slept through
# The only command buttons a DM keeps: those asking its recipient to decide (an approval request's Approve /
# Reject). They are stateless, so the gateway process answers them whoever sent the DM, and they work this long;
# the core refuses whatever is no longer open (an expired request says so). Other DMs keep their link buttons.
DM_COMMANDS = ("/approve ", "/reject ")
DM_BUTTON_TTL = 7 * 24 * 3600.0


def dm_view(reply: Reply, user_ref: str) -> discord.ui.View | None:
    """The view of a DM: its link buttons, and the command buttons of DM_COMMANDS for its recipient to press."""
    kept = tuple(b for b in reply.buttons if b.url or b.command.startswith(DM_COMMANDS))
    if not any(not b.url for b in kept):
        return link_view(reply.buttons)
    shown = view(kept, user_ref.partition(":")[2], ttl=DM_BUTTON_TTL)
    if shown is not None:
        shown.timeout = None  # this REST-only client never sees the buttons pressed: no timer to keep
    return shown


async def patient(call: Callable[[], Awaitable[T]]) -> T:
    """A Discord REST call whose 429s are waited out (core.delivery.patiently), never dropped. discord.py itself
    sleeps through a 429 that carries Discord's `Via` header; one without it (a proxy, a Cloudflare-style answer),
    or one longer than the client's max_ratelimit_timeout, raises: here it becomes RetryAfter."""

    async def once() -> T:
        try:
            return await call()
        except discord.RateLimited as e:
            raise RetryAfter(e.retry_after) from e
        except discord.HTTPException as e:
            if e.status == 429:
                raise RetryAfter(retry_after(e)) from e
            raise

    return await patiently(once)


def retry_after(e: discord.HTTPException) -> float:
    headers = getattr(e.response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, TypeError, ValueError):
            continue
    return 1.0


class DiscordNotifier:
    """core.ports.Notifier for user refs `discord:<id>`: a reply as a DM. discord.py's HTTP client keeps the
    per-route buckets; `may_dm` limits DMs to people who have used the bot, because cold DMs get a bot
    quarantined."""

    def __init__(
        self,
        token: str,
        *,
        may_dm: Callable[[str], Awaitable[bool]] | None = None,
        max_wait: float = MAX_WAIT,
        slots: MutableMapping[str, int] | None = None,
    ) -> None:
        self._token = token
        # progress slot -> id of the DM that shows it; shared (e.g. in Redis) when several processes deliver
        self.slots: MutableMapping[str, int] = slots if slots is not None else {}
        self.may_dm = may_dm
        self.max_wait = max_wait
        self._client: discord.Client | None = None
        self._channels: dict[int, discord.DMChannel] = {}

    def __repr__(self) -> str:
        return "DiscordNotifier(token=***)"

    async def _login(self) -> discord.Client:
        if self._client is None:
            intents = discord.Intents.none()
            intents.guilds = True  # only to keep discord.py's state quiet: this client never opens the gateway
            client = discord.Client(intents=intents, allowed_mentions=NO_MENTIONS, max_ratelimit_timeout=self.max_wait)
            try:
                await client.login(self._token)
            except BaseException:
                await client.close()
                raise
            self._client = client
        return self._client

    async def send(self, user_ref: str, reply: Reply) -> Delivery:
        async def post(channel: discord.DMChannel) -> None:
            for part in parts(reply, dm_view(reply, user_ref)):
                await patient(lambda: channel.send(part.text, **part.extras()))  # noqa: B023

        return await self._deliver(user_ref, post)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        """Progress that replaces itself: edit the DM last sent for `slot` (PATCH), or send the first one and
        remember its id. A message that is gone is sent again, once, as a new one."""

        async def edit_or_post(channel: discord.DMChannel) -> None:
            first = Part(parts(reply)[0].text, view=link_view(reply.buttons))  # one message: the first, no files
            message_id = self.slots.get(slot)
            if message_id is not None:
                shown = channel.get_partial_message(int(message_id))
                try:
                    await patient(lambda: shown.edit(content=first.text, **first.extras()))
                    return
                except discord.NotFound:
                    log.info("progress message %s is gone; sending a new one", message_id)
            sent = await patient(lambda: channel.send(first.text, **first.extras()))
            self.slots[slot] = sent.id

        return await self._deliver(user_ref, edit_or_post)

    async def _deliver(self, user_ref: str, act: Callable[[discord.DMChannel], Awaitable[None]]) -> Delivery:
        """Open (or reuse) the DM channel and act on it; Discord's answers become a Delivery."""
        try:
            uid = user_ref_user_id(user_ref)
        except ValueError as e:
            return Delivery(ok=False, undeliverable=True, error=str(e))
        if self.may_dm is not None and not await self.may_dm(user_ref):
            return Delivery(ok=False, undeliverable=True, error="has not used the bot; no cold DMs")
        try:
            client = await self._login()
            channel = self._channels.get(uid)
            if channel is None:
                channel = await patient(lambda: client.create_dm(discord.Object(uid)))
                self._channels[uid] = channel
            await act(channel)
            return Delivery(ok=True)
        except discord.LoginFailure:
            return Delivery(ok=False, error="the bot token was rejected")
        except RetryAfter as e:
            return Delivery(ok=False, retry_after=e.seconds, error="rate limited")
        except discord.Forbidden as e:
            if e.code in CLOSED_DMS:
                return Delivery(ok=False, undeliverable=True, error=f"DMs closed (code {e.code})")
            return Delivery(ok=False, error=f"forbidden (code {e.code})")
        except discord.NotFound as e:
            return Delivery(ok=False, undeliverable=True, error=f"unknown user (code {e.code})")
        except discord.HTTPException as e:
            return Delivery(ok=False, error=f"HTTP {e.status} (code {e.code})")
        except (OSError, TimeoutError) as e:
            return Delivery(ok=False, error=f"Discord unreachable: {type(e).__name__}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
