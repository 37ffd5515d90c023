"""Images in replies (a payment link's QR code) reach Telegram as photos, from the notifier and the front end alike;
other files stay documents. Against the local fake Bot API, which refuses a photo it could not decode."""

from __future__ import annotations

import io

import pytest
import segno
from telegram import Bot

from adapters.telegram import TelegramNotifier
from adapters.telegram.buttons import CallbackCodec
from adapters.telegram.frontend import TelegramFrontend
from core.replies import Attachment, Reply
from tests.e2e.telegram.fake_bot_api import FakeBotApi


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text).save(out, kind="png", scale=4)
    return out.getvalue()


REPLY = Reply.of(
    "Pay from your wallet:",
    files=(Attachment("pay-qr.png", qr_png("ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed@25?value=1e18"),
                      "image/png"),
           Attachment("ledger.csv", b"when,amount\n", "text/csv")),
    private=True,
)


@pytest.fixture
async def api():
    server = await FakeBotApi().start()
    server.started.update({11})
    yield server
    await server.stop()


def shown(api: FakeBotApi, chat_id: int) -> list[tuple[str, str]]:
    out = []
    for c in api.calls:
        if c.chat_id == chat_id and c.status == 200 and c.method in ("sendMessage", "sendPhoto", "sendDocument"):
            upload = c.params.get("photo") or c.params.get("document") or {}
            out.append((c.method, upload.get("filename", "") if isinstance(upload, dict) else ""))
    return out


async def test_the_notifier_sends_a_png_as_a_photo_and_a_csv_as_a_document(api):
    async with TelegramNotifier(api.token, base_url=api.base_url) as notifier:
        assert (await notifier.send("telegram:11", REPLY)).ok
    assert shown(api, 11) == [("sendMessage", ""), ("sendPhoto", "pay-qr.png"), ("sendDocument", "ledger.csv")]
    photo = api.sent_to(11, "sendPhoto")[0].params["photo"]
    assert photo["content"] == REPLY.files[0].content  # the PNG itself, uploaded


async def test_the_front_end_sends_a_png_as_a_photo(api):
    frontend = TelegramFrontend(object(), codec=CallbackCodec.for_token(api.token), commands=["help"])  # type: ignore[arg-type]  # post() never reaches the engine
    async with Bot(api.token, base_url=api.base_url) as bot:
        await frontend.post(bot, 11, REPLY, owner=11)
    assert shown(api, 11) == [("sendMessage", ""), ("sendPhoto", "pay-qr.png"), ("sendDocument", "ledger.csv")]


async def test_a_photo_telegram_cannot_take_is_reported_not_raised(api):
    broken = Reply.of("QR:", files=(Attachment("qr.png", b"not a png", "image/png"),))
    async with TelegramNotifier(api.token, base_url=api.base_url) as notifier:
        result = await notifier.send("telegram:11", broken)
    assert not result.ok and result.error == "file not sent: BadRequest"
