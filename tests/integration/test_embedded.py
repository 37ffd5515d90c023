"""The embedded default end to end in-process: the real dev chain, a real SQLite file, real signatures."""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import encode_defunct

from bot.bootstrap import build
from bot.settings import Settings
from core.commands import Actor

OP = Actor("telegram", "1000", "Operator")  # a @handle resolves only on the payer's own platform (H4)
ALICE = Actor("telegram", "1001", "Alice", "alice")


async def test_link_with_a_real_signature_then_pay_by_handle(tmp_path):
    app = await build(Settings(_env_file=None, data_dir=tmp_path), extra_operators=frozenset({OP.ref}))
    n = iter(range(1000))

    async def say(actor, text):
        return await app.engine.handle_text(text, actor=actor, key=f"k{next(n)}")

    try:
        wallet, intruder = Account.create(), Account.create()
        challenge = await say(ALICE, f"/link {wallet.address}")
        assert challenge.private
        message = next(s.text for line in challenge.lines for s in line if s.kind == "code" and "Nonce:" in s.text)

        def signed_by(account) -> str:
            return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")

        wrong = await say(ALICE, f"/link {signed_by(intruder)}")
        assert "signature:" in wrong.plain() and "nothing was linked" in wrong.plain()
        assert "Linked" in (await say(ALICE, f"/link {signed_by(wallet)}")).plain()
        assert "no open challenge" in (await say(ALICE, f"/link {signed_by(wallet)}")).plain()  # one use only

        asked = await say(OP, "/pay @alice 2.5 USDC")
        assert wallet.address in asked.plain() and "@alice (telegram:1001)" in asked.plain()  # shown before paying
        paid = await say(OP, asked.buttons[0].command)
        assert paid.kind == "ok", paid.plain()
        assert re.search(r"0x[0-9a-f]{64}", paid.plain())
        assert await app.chain.balance(wallet.address, app.chain.tokens.get("USDC")) == 2_500_000
        mine = (await say(ALICE, "/wallet")).plain()
        assert "USDC: 2.5" in mine and "Treasury" not in mine
        assert "← " in (await say(ALICE, "/history")).plain()
        async with app.uow() as uow:
            kinds = sorted((n.type.value, n.user_ref) for n in await uow.outbox.pending())
        assert kinds == [("payment_received", ALICE.ref), ("payment_sent", OP.ref)]
    finally:
        await app.close()
