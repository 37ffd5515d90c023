"""A payout file settled on anvil through the real bootstrap: mixed tokens, a reverting recipient failing alone."""

from __future__ import annotations

import csv
import io

import pytest
from eth_account import Account

from adapters.chain.deploy import deploy_stack
from adapters.chain.devnet import anvil_keys, start_anvil
from adapters.chain.rpc import HttpNode
from bot.bootstrap import build
from bot.settings import load_settings
from core.bulk.model import BatchStatus
from core.commands import Actor
from core.model import NotificationType
from core.replies import loads
from tests.adapters.chain.ops import Actor as Sender

pytestmark = pytest.mark.anvil
OP = Actor("console", "lead", "Finance lead")


async def test_file_with_a_reverting_recipient_settles_everyone_else(tmp_path) -> None:
    anvil = start_anvil(extra_args=("--mixed-mining", "--block-time", "1"))
    app = None
    try:
        owner, executor = anvil_keys(2)
        node = HttpNode(anvil.url)
        try:
            d = await deploy_stack(node, owner, executor=Account.from_key(executor).address, dev_tokens=True,
                                   treasury_native=100 * 10**18)
            reverting = await Sender(node, owner, d.chain_id).deploy("RevertingRecipient")
        finally:
            await node.close()
        settings = load_settings(
            rpc_url=anvil.url, private_key=executor, settlement_contract_address=d.settlement, chain_id=d.chain_id,
            tokens=",".join(f"{s}={a}" for s, a in d.tokens.items()), operators=OP.ref,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bulk.sqlite3'}",
        )
        app = await build(settings)
        good = [Account.create().address for _ in range(6)]
        lines = ["to;amount;currency;note"] + [f"{a};1.25;{'USDC' if i % 2 else 'CRO'};=HYPERLINK(\"x\")" for i, a in enumerate(good)]
        lines.insert(3, f"{reverting};2;CRO;refuses")
        preview = await app.engine.bulk_upload(OP, "tg-1-1", "payroll.csv", ("\r\n".join(lines) + "\r\n").encode())
        text = preview.plain()
        assert "Recipients: 7" in text and "3.75 USDC" in text and "5.75 CRO" in text, text
        assert "Estimated network fee: ~" in text and "CRO (1 transaction" in text and "holds enough" in text
        batch_id = preview.buttons[0].command.split()[-1]
        reply = await app.engine.handle_text(f"/bulk execute {batch_id}", actor=OP, key="tg-1-2")
        assert "Executing" in reply.plain(), reply.plain()
        await app.queue.drain()

        async with app.uow() as u:
            batch = await u.batches.get(batch_id)
            rows = await u.batches.rows(batch_id)
            done = [n for n in await u.outbox.pending() if n.type is NotificationType.BATCH_COMPLETE]
        assert (batch.status, batch.paid, batch.failed) == (BatchStatus.DONE, 6, 1)
        failed = [r for r in rows if r.status.value == "failed"]
        assert [r.recipient for r in failed] == [reverting] and failed[0].line == 4
        assert "refused" in failed[0].error
        for i, address in enumerate(good):
            token = app.chain.tokens.get("USDC" if i % 2 else "CRO")
            assert await app.chain.balance(address, token) == 125 * 10 ** (token.decimals - 2)
        assert await app.chain.balance(reverting, app.chain.tokens.native) == 0
        assert batch.gas_used > 0 and batch.fees > 0
        summary = loads(done[0].body)
        assert "Paid: 6 of 7" in summary.plain() and "refused" in summary.plain()
        report = list(csv.reader(io.StringIO(summary.files[0].content.decode("utf-8-sig"))))
        assert report[1][4] == "'=HYPERLINK(\"x\")" and report[3][5] == "failed" and report[1][6].startswith("0x")
    finally:
        if app is not None:
            await app.close()
        anvil.stop()
