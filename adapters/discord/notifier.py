"""DMs from worker processes: REST only (no gateway), with the bot token alone, within Discord's rate limits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping

import discord

from adapters.discord.render import NO_MENTIONS, files, render
from adapters.discord.retry import patient, retry_after
from core.ports import Delivery
from core.replies import Reply

log = logging.getLogger("snowrail.discord.dm")

CLOSED_DMS = {50007, 50278}  # cannot send messages to this user; not sharing a guild any more
MAX_WAIT = 30.0  # a 429 asking for longer than this is handed back as retry_after, not slept through


class DiscordDMNotifier:
    """Sends a reply to a Discord user by DM. discord.py's HTTP client sleeps through 429s (retry_after) and
    keeps the per-route buckets; `may_dm` limits DMs to people who have used the bot, because cold DMs get a
    bot quarantined."""

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
        return "DiscordDMNotifier(token=***)"

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
            out = render(reply)
            links = _links(reply)
            for i, text in enumerate(out.texts):
                last = i == len(out.texts) - 1

                def extra(final: bool = last) -> dict:  # fresh files for each attempt
                    kw: dict = {"allowed_mentions": NO_MENTIONS}
                    if final and out.files:
                        kw["files"] = files(out.files)
                    if final and links is not None:
                        kw["view"] = links
                    return kw

                await patient(lambda: channel.send(text, **extra()))  # noqa: B023

        return await self._deliver(user_ref, post)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        """Progress that replaces itself: edit the DM last sent for `slot` (PATCH), or send the first one and
        remember its id. A message that is gone is sent again, once, as a new one."""

        async def edit_or_post(channel: discord.DMChannel) -> None:
            text = render(reply).texts[0]
            links = _links(reply)
            kw: dict = {"allowed_mentions": NO_MENTIONS, **({"view": links} if links is not None else {})}
            message_id = self.slots.get(slot)
            if message_id is not None:
                shown = channel.get_partial_message(int(message_id))
                try:
                    await patient(lambda: shown.edit(content=text, **kw))
                    return
                except discord.NotFound:
                    log.info("progress message %s is gone; sending a new one", message_id)
            sent = await patient(lambda: channel.send(text, **kw))
            self.slots[slot] = sent.id

        return await self._deliver(user_ref, edit_or_post)

    async def _deliver(self, user_ref: str, act: Callable[[discord.DMChannel], Awaitable[None]]) -> Delivery:
        """Open (or reuse) the DM channel and act on it; Discord's answers become a Delivery."""
        platform, _, uid = user_ref.partition(":")
        if platform != "discord" or not uid.isdigit():
            return Delivery(ok=False, undeliverable=True, error=f"{user_ref} is not a Discord user")
        if self.may_dm is not None and not await self.may_dm(user_ref):
            return Delivery(ok=False, undeliverable=True, error="has not used the bot; no cold DMs")
        try:
            client = await self._login()
            channel = self._channels.get(int(uid))
            if channel is None:
                channel = await patient(lambda: client.create_dm(discord.Object(int(uid))))
                self._channels[int(uid)] = channel
            await act(channel)
            return Delivery(ok=True)
        except discord.LoginFailure:
            return Delivery(ok=False, error="the bot token was rejected")
        except discord.RateLimited as e:
            return Delivery(ok=False, retry_after=e.retry_after, error="rate limited")
        except discord.Forbidden as e:
            if e.code in CLOSED_DMS:
                return Delivery(ok=False, undeliverable=True, error=f"DMs closed (code {e.code})")
            return Delivery(ok=False, error=f"forbidden (code {e.code})")
        except discord.NotFound as e:
            return Delivery(ok=False, undeliverable=True, error=f"unknown user (code {e.code})")
        except discord.HTTPException as e:
            if e.status == 429:
                return Delivery(ok=False, retry_after=retry_after(e), error="rate limited")
            return Delivery(ok=False, error=f"HTTP {e.status} (code {e.code})")
        except (OSError, TimeoutError) as e:
            return Delivery(ok=False, error=f"Discord unreachable: {type(e).__name__}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _links(reply: Reply) -> discord.ui.View | None:
    """Command buttons need the gateway process to answer them; a DM keeps only its link buttons."""
    urls = [b for b in reply.buttons if b.url]
    if not urls:
        return None
    view = discord.ui.View(timeout=None)
    for b in urls[:25]:
        view.add_item(discord.ui.Button(label=b.label[:80], url=b.url))
    return view
