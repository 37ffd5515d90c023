"""Plain language to a saved payee or a @handle through the real PTB library: preview, Confirm, the payment (H4)."""

from __future__ import annotations

import html
import re

import pytest

from tests.e2e.telegram.conftest import OPERATOR
from tests.e2e.telegram.fake_bot_api import Person

TX = re.compile(r"0x[0-9a-f]{64}")
PAYEE_WALLET = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
BEA = Person(4004, "Bea", "bea_h4")  # someone who links a wallet and is then paid by @handle
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def edit_of(api, message, after: int):
    return await api.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == message.result["message_id"], after=after)


async def test_a_dm_naming_a_saved_payee_is_previewed_then_confirm_pays_it(api, telegram):
    saved = await api.ask(OPERATOR, OPERATOR.dm, f"/payee add hosting_co {PAYEE_WALLET} hosting")
    assert "Saved payee <b>hosting_co</b>" in saved.text

    preview = await api.ask(OPERATOR, OPERATOR.dm, "send 25 usdc to Hosting_Co")
    assert "<code>/pay hosting_co 25 USDC</code>" in preview.text  # the exact command it maps to
    assert [b["text"] for b in preview.buttons()] == ["Confirm", "Cancel"]
    assert not TX.search(preview.text)  # nothing is paid from the sentence itself

    before = len(api.calls)
    await api.press(OPERATOR, preview, "Confirm")  # a callback query, as Telegram sends it
    paid = await edit_of(api, preview, before)
    assert "confirmed" in paid.text and "25 USDC" in paid.text and PAYEE_WALLET.lower() in paid.text.lower()
    tx = TX.search(paid.text).group(0)
    history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
    assert tx in history.text

    listed = await api.ask(OPERATOR, OPERATOR.dm, "/payees")
    assert "hosting_co" in listed.text and "hosting" in listed.text
    ambiguous = await api.ask(OPERATOR, OPERATOR.dm, "/pay hosting 1 USDC")
    assert "did you mean hosting_co?" in ambiguous.text and not ambiguous.buttons()


async def test_a_dm_naming_a_handle_is_previewed_confirmed_and_paid_to_their_wallet(api, telegram):
    from eth_account import Account
    from eth_account.messages import encode_defunct

    api.started.add(BEA.id)
    wallet = Account.create()
    challenge = await api.ask(BEA, BEA.dm, f"/link {wallet.address}")
    message = html.unescape(re.search(r"<code>(SnowRail wallet link.*?)</code>", challenge.text, re.S).group(1))
    signature = Account.sign_message(encode_defunct(text=message), wallet.key).signature.hex()
    linked = await api.ask(BEA, BEA.dm, "/link 0x" + signature.removeprefix("0x"))
    assert "Linked" in linked.text

    preview = await api.ask(OPERATOR, OPERATOR.dm, f"please send 2 usdc to @{BEA.username}")
    assert f"<code>/pay @{BEA.username} 2 USDC</code>" in preview.text
    assert [b["text"] for b in preview.buttons()] == ["Confirm", "Cancel"]

    before = len(api.calls)
    await api.press(OPERATOR, preview, "Confirm")
    # A person named by @handle: the address they linked is shown, and one more Confirm pays it.
    shown = await edit_of(api, preview, before)
    assert wallet.address.lower() in shown.text.lower() and f"telegram:{BEA.id}" in shown.text
    assert not TX.search(shown.text)
    confirm = next(b for b in shown.buttons() if "Confirm" in b["text"])
    before = len(api.calls)
    await api.press_data(OPERATOR, preview, confirm["callback_data"])
    paid = await edit_of(api, preview, before)
    assert "confirmed" in paid.text and "2 USDC" in paid.text
    tx = TX.search(paid.text).group(0)
    told = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == BEA.id and tx in c.text)
    assert "2 USDC" in told.text
