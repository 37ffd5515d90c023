"""The Telegram handlers: translate updates for the engine and put its replies in the right chat."""

from __future__ import annotations

import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Iterable

from telegram import Bot, Chat, Message, ReplyParameters, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram.buttons import BadCallback, CallbackCodec
from adapters.telegram.files import send_file
from adapters.telegram.identity import actor_of, message_key, press_key
from adapters.telegram.notifier import NO_PREVIEW
from adapters.telegram.render import html_to_text, messages
from core.bulk.file import MAX_BYTES
from core.guard import Removal, guard
from core.ports import ChatEngine
from core.replies import Button, Reply

log = logging.getLogger("snowrail.telegram")

_COMMAND_HEAD = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?")
NOT_YOURS = "Only the person who asked (or an operator) can use these buttons."
STALE = "This button is no longer valid. Send the command again."


class TelegramFrontend:
    """Everything between PTB and the engine. Nothing here decides anything about money: the engine does."""

    def __init__(
        self, engine: ChatEngine, *, codec: CallbackCodec, commands: Iterable[str], max_upload: int = MAX_BYTES
    ) -> None:
        self.engine, self.codec, self.max_upload = engine, codec, max_upload
        self.commands = sorted(set(commands))
        self._held: OrderedDict[str, tuple[int, Reply]] = OrderedDict()  # deep-link payload -> private reply

    def handlers(self) -> dict[int, list[BaseHandler]]:
        """PTB handler groups: group -1 guards groups against pasted secrets before anything else runs. It reads
        edits too (a harmless message can be edited into a key); commands run only from new messages."""
        new, new_or_edited = filters.UpdateType.MESSAGE, filters.UpdateType.MESSAGES
        private = filters.ChatType.PRIVATE
        bulk_file = filters.Document.ALL & filters.CaptionRegex(r"^/bulk(@[A-Za-z0-9_]+)?(\s|$)")
        in_groups = new_or_edited & filters.ChatType.GROUPS & (filters.TEXT | filters.CAPTION)
        return {
            -1: [MessageHandler(in_groups, self.on_group_secret)],
            0: [
                MessageHandler(new & bulk_file, self.on_document),
                CommandHandler(self.commands, self.on_command, filters=new),
                MessageHandler(new & filters.COMMAND & private, self.on_command),  # unknown commands
                MessageHandler(new & filters.TEXT & ~filters.COMMAND & private, self.on_command),
                MessageHandler(new & filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS, self.on_mention),
                CallbackQueryHandler(self.on_press),
            ],
        }

    # ------------------------------------------------------------------ incoming
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None or not msg.text:
            return
        if not is_private(chat) and addressed_elsewhere(msg.text, context.bot.username):
            return
        key = message_key(context.bot.id, chat.id, msg.message_id)
        reply = await self.engine.handle_text(msg.text, actor=actor_of(user), key=key)
        await self.respond(context.bot, chat, user, reply, reply_to=msg.message_id)
        if is_private(chat) and command_name(msg.text) == "start":
            await self._release_held(context.bot, user, msg.text)

    async def on_mention(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain words in a group that mention the bot: the engine's preview, as in a DM (it never acts by itself)."""
        msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
        name = context.bot.username
        if msg is None or user is None or chat is None or not msg.text or not name:
            return
        text = re.sub(rf"(?i)(?<![\w@])@{re.escape(name)}\b[,:]?", " ", msg.text).strip()
        if text == msg.text.strip() or not text or text.startswith("/"):
            return
        key = message_key(context.bot.id, chat.id, msg.message_id)
        reply = await self.engine.handle_text(text, actor=actor_of(user), key=key)
        await self.respond(context.bot, chat, user, reply, reply_to=msg.message_id)

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None or msg.document is None:
            return
        actor, key, doc = actor_of(user), message_key(context.bot.id, chat.id, msg.message_id), msg.document
        if doc.file_size is not None and doc.file_size > self.max_upload:
            reply = Reply.error(
                f"file: {doc.file_name or 'the file'} is {_mb(doc.file_size)}; /bulk files may be at most "
                f"{_mb(self.max_upload)}. Split it into smaller files."
            )
        else:
            file = await doc.get_file()
            content = bytes(await file.download_as_bytearray())
            if len(content) > self.max_upload:
                reply = Reply.error(f"file: it is {_mb(len(content))}; /bulk files may be at most {_mb(self.max_upload)}.")
            else:
                reply = await self.engine.bulk_upload(actor, key, doc.file_name or "upload.csv", content)
        await self.respond(context.bot, chat, user, reply, reply_to=msg.message_id)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        try:
            press = self.codec.unpack(query.data)
        except BadCallback:
            await _answer(query, STALE, alert=True)
            return
        actor = actor_of(user)
        if not self.engine.may_press(actor, press):
            await _answer(query, NOT_YOURS, alert=True)
            return
        message = query.message
        if not isinstance(message, Message):  # too old for Telegram to show us
            await _answer(query, STALE, alert=True)
            return
        await _answer(query, "Working on it…")
        chat = message.chat
        edited = int(message.edit_date.timestamp()) if message.edit_date else None
        key = press_key(context.bot.id, chat.id, message.message_id, press.command, edited)
        reply = await self.engine.handle_text(press.command, actor=actor, key=key)
        await self.respond(context.bot, chat, user, reply, edit=message.message_id)

    async def on_group_secret(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A mixer note or private key in a group (core.guard decides): deleted, its author warned privately, and
        nothing else handles the message."""
        msg, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None:
            return
        message = GroupMessage(self, context.bot, msg, user, edited=update.edited_message is not None)
        actor, key = actor_of(user), message_key(context.bot.id, chat.id, msg.message_id)

        async def report(what: str, removal: Removal) -> None:  # the admins' security alert, once per message
            await self.engine.secret_removed(actor, key, message.place, what, removal)

        if await guard(message, report):
            raise ApplicationHandlerStop

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        uid = update.update_id if isinstance(update, Update) else None
        log.error("telegram update %s failed: %s", uid, type(error).__name__, exc_info=error)

    # ------------------------------------------------------------------ outgoing
    async def respond(
        self, bot: Bot, chat: Chat, user: User, reply: Reply, *, reply_to: int | None = None, edit: int | None = None
    ) -> None:
        """Post a reply where it belongs: sensitive output goes to the user's private chat, never a group."""
        if not reply.private or is_private(chat):
            await self.post(bot, chat.id, reply, owner=user.id, reply_to=reply_to, edit=edit)
            return
        name = user.first_name or "there"
        if await self.dm(bot, user.id, reply):
            note = Reply.of(f"{name}, I sent the answer to you in a private chat: it is for your eyes only.")
        else:
            payload = self._hold(user.id, reply)
            note = Reply.of(
                f"{name}, this answer is for your eyes only. Start a private chat with me and I will send it there.",
                buttons=(Button("Open a private chat", url=f"https://t.me/{bot.username}?start={payload}"),),
            )
        await self.post(bot, chat.id, note, owner=user.id, reply_to=reply_to, edit=edit)

    async def post(
        self, bot: Bot, chat_id: int, reply: Reply, *, owner: int, reply_to: int | None = None, edit: int | None = None
    ) -> None:
        for i, (text, buttons) in enumerate(messages(reply, self.codec, owner)):
            if i == 0 and edit is not None:
                try:
                    await bot.edit_message_text(
                        text, chat_id=chat_id, message_id=edit, parse_mode=ParseMode.HTML,
                        reply_markup=buttons, link_preview_options=NO_PREVIEW,
                    )
                    continue
                except BadRequest as e:
                    if "not modified" in e.message.lower():
                        continue
                    log.info("could not edit message %s in %s (%s); sending a new one", edit, chat_id, e.message)
            answer_to = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to and i == 0 else None
            try:
                await bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, reply_markup=buttons, link_preview_options=NO_PREVIEW,
                    reply_parameters=answer_to,
                )
            except BadRequest as e:
                if "parse" not in e.message.lower():
                    raise
                # Our markup was refused (it should not be): the words matter more than the styling.
                log.error("telegram refused our HTML (%s); sending plain text", e.message)
                await bot.send_message(chat_id, html_to_text(text), reply_markup=buttons, reply_parameters=answer_to)
        for f in reply.files:
            await send_file(bot, chat_id, f)

    async def dm(self, bot: Bot, user_id: int, reply: Reply) -> bool:
        """Send to the user's private chat; False if they have not opened one with the bot (or blocked it)."""
        try:
            await self.post(bot, user_id, reply, owner=user_id)
            return True
        except Forbidden:
            return False
        except BadRequest as e:
            if "chat not found" in e.message.lower():
                return False
            raise

    def _hold(self, user_id: int, reply: Reply) -> str:
        """Keep a private reply for the user until they open a private chat with /start <payload>."""
        payload = "p" + secrets.token_urlsafe(12)
        self._held[payload] = (user_id, reply)
        while len(self._held) > 1000:
            self._held.popitem(last=False)
        return payload

    async def _release_held(self, bot: Bot, user: User, text: str) -> None:
        words = text.split()
        if len(words) < 2 or words[1] not in self._held:
            return
        owner, reply = self._held[words[1]]
        if owner != user.id:
            return
        del self._held[words[1]]
        await self.post(bot, user.id, reply, owner=user.id)


class GroupMessage:
    """A group message as core.guard.PublicMessage: deleted and warned about through this bot."""

    right_to_delete = "the right to delete messages"

    def __init__(self, frontend: TelegramFrontend, bot: Bot, message: Message, author: User, *, edited: bool) -> None:
        self.frontend, self.bot, self.message, self.author, self.edited = frontend, bot, message, author, edited
        self.text = message.text or message.caption or ""
        self.place = f"the group “{message.chat.title or message.chat.id}”"

    async def delete(self) -> Removal:
        try:
            await self.bot.delete_message(self.message.chat.id, self.message.message_id)
            return Removal.DELETED
        except TelegramError:
            return Removal.REFUSED

    async def warn_author(self, warning: Reply) -> None:
        await self.frontend.dm(self.bot, self.author.id, warning)


def command_name(text: str) -> str | None:
    m = _COMMAND_HEAD.match(text.strip())
    return m.group(1).lower() if m else None


def addressed_elsewhere(text: str, bot_username: str | None) -> bool:
    """`/cmd@OtherBot`: meant for another bot in the same group."""
    m = _COMMAND_HEAD.match(text.strip())
    return bool(m and m.group(2) and bot_username and m.group(2).lower() != bot_username.lower())


def is_private(chat: Chat) -> bool:
    return chat.type == Chat.PRIVATE


async def _answer(query, text: str, *, alert: bool = False) -> None:
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as e:  # already answered, or too old: nothing more to do
        log.info("callback answer failed: %s", type(e).__name__)


def _mb(size: int) -> str:
    tenths = size // 100_000
    return f"{tenths // 10}.{tenths % 10} MB"
