"""A reply's files as Telegram shows them: images (a payment link's QR code) as photos, everything else as documents."""

from __future__ import annotations

from telegram import Bot, Message

from core.replies import Attachment

# What Telegram shows inline as a photo (it recompresses them; a QR code survives that). Other images, like other
# files, go as documents, byte for byte.
PHOTO_TYPES = frozenset({"image/png", "image/jpeg"})


async def send_file(bot: Bot, chat_id: int, attachment: Attachment) -> Message:
    """The one place both the front end and the notifier send an attachment."""
    if attachment.mime.lower() in PHOTO_TYPES:
        return await bot.send_photo(chat_id, photo=attachment.content, filename=attachment.filename)
    return await bot.send_document(chat_id, document=attachment.content, filename=attachment.filename)
