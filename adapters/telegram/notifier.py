"""Private messages to Telegram users from anywhere (an RQ worker included), with only the bot token."""

from __future__ import annotations

import datetime as dtm
import logging
import warnings
from collections.abc import MutableMapping

from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.error import RetryAfter as Throttled
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram.buttons import CallbackCodec
from adapters.telegram.files import send_file
from adapters.telegram.identity import user_ref_chat_id
from adapters.telegram.limits import SendLimiter
from adapters.telegram.render import chunks, keyboard, messages
from core.delivery import RetryAfter, patiently
from core.ports import Delivery
from core.replies import Reply

log = logging.getLogger("snowrail.telegram.notifier")

DEFAULT_API = "https://api.telegram.org/bot"
DEFAULT_FILES = "https://api.telegram.org/file/bot"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_GONE = ("chat not found", "user is deactivated", "bot was blocked", "peer_id_invalid")


def wait_of(error: Throttled) -> float:
    """retry_after in seconds, whichever type this PTB version returns (int now, timedelta later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class TelegramNotifier:
    """core.ports.Notifier for user refs `telegram:<id>`. Needs the token only (no Application, no polling).

    A 429 is waited out and retried when its retry_after is at most `max_wait` seconds, else reported back
    with retry_after so the outbox row stays pending. Forbidden (blocked, or never started) is undeliverable.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = DEFAULT_API,
        base_file_url: str = DEFAULT_FILES,
        bot: Bot | None = None,
        limiter: SendLimiter | None = None,
        max_wait: float = 30.0,
        attempts: int = 3,
        slots: MutableMapping[str, int] | None = None,
    ) -> None:
        if bot is None and not token:
            raise ValueError("TelegramNotifier needs the bot token or a Bot")
        self._own = bot is None
        self.bot = bot or Bot(token or "", base_url=base_url, base_file_url=base_file_url)
        self.codec = CallbackCodec.for_token(self.bot.token)
        self.limiter = limiter or SendLimiter()
        self.max_wait, self.attempts = max_wait, attempts
        # slot -> id of the message that shows it; shared (e.g. in Redis) when several processes deliver
        self.slots: MutableMapping[str, int] = slots if slots is not None else {}
        self._ready = False

    async def _start(self) -> None:
        if not self._ready:
            await self.bot.initialize()
            self._ready = True

    async def close(self) -> None:
        if self._own and self._ready:
            await self.bot.shutdown()
        self._ready = False

    async def __aenter__(self) -> TelegramNotifier:
        await self._start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def send(self, user_ref: str, reply: Reply) -> Delivery:
        chat_id = await self._chat_of(user_ref)
        if isinstance(chat_id, Delivery):
            return chat_id
        for text, markup in messages(reply, self.codec, chat_id):
            result, _ = await self._send_one(chat_id, text, markup)
            if not result.ok:
                return result
        for f in reply.files:
            await self.limiter.wait(chat_id)
            try:
                await send_file(self.bot, chat_id, f)
            except TelegramError as e:
                return Delivery(ok=False, error=f"file not sent: {type(e).__name__}")
        return Delivery(ok=True)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        """Progress that replaces itself: edit the message last sent for `slot`, or send the first one."""
        chat_id = await self._chat_of(user_ref)
        if isinstance(chat_id, Delivery):
            return chat_id
        text, markup = chunks(reply)[0], keyboard(reply, self.codec, chat_id)
        message_id = self.slots.get(slot)
        if message_id is not None:
            await self.limiter.wait(chat_id)
            try:
                await self.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=int(message_id), parse_mode=ParseMode.HTML,
                    reply_markup=markup, link_preview_options=NO_PREVIEW,
                )
                return Delivery(ok=True)
            except BadRequest as e:
                if "not modified" in e.message.lower():
                    return Delivery(ok=True)
                log.info("progress message %s could not be edited (%s); sending a new one", message_id, e.message)
            except TelegramError as e:
                return Delivery(ok=False, error=f"edit failed: {type(e).__name__}")
        result, sent_id = await self._send_one(chat_id, text, markup)
        if sent_id is not None:
            self.slots[slot] = sent_id
        return result

    async def _chat_of(self, user_ref: str) -> int | Delivery:
        """The user's private chat with the bot, or why nothing can be sent there (a Delivery to hand back)."""
        try:
            chat_id = user_ref_chat_id(user_ref)
        except ValueError as e:
            return Delivery(ok=False, undeliverable=True, error=str(e))
        try:
            await self._start()
        except TelegramError as e:
            return Delivery(ok=False, error=f"telegram unavailable: {type(e).__name__}")
        return chat_id

    async def _send_one(self, chat_id: int, text: str, markup) -> tuple[Delivery, int | None]:
        async def attempt() -> Message:
            await self.limiter.wait(chat_id)
            try:
                return await self.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
                )
            except Throttled as e:
                log.info("telegram asked to wait %.1fs before messaging %s", wait_of(e), chat_id)
                raise RetryAfter(wait_of(e)) from e

        async def pause(seconds: float) -> None:
            # Waited out in the limiter: the next attempt's slot, and every other chat's, comes after it.
            self.limiter.push_back(chat_id, seconds)

        try:
            sent = await patiently(attempt, attempts=self.attempts, longest=self.max_wait, sleep=pause)
            return Delivery(ok=True), sent.message_id
        except RetryAfter as e:
            return Delivery(ok=False, retry_after=e.seconds, error="rate limited by Telegram"), None
        except Forbidden:
            return Delivery(ok=False, undeliverable=True, error="the user blocked the bot or never started it"), None
        except BadRequest as e:
            if any(g in e.message.lower() for g in _GONE):
                return Delivery(ok=False, undeliverable=True, error=e.message[:200]), None
            return Delivery(ok=False, error=f"rejected by Telegram: {e.message[:200]}"), None
        except NetworkError as e:
            return Delivery(ok=False, error=f"network: {type(e).__name__}"), None
