"""Rotating the executor key (docs/operations.md): after the owner's setExecutor, the old key pays nothing and
the bot restarted with the new key pays, on the same database and the same treasury."""

from __future__ import annotations

import pytest
from eth_account import Account

from adapters.chain.deploy import deploy_stack
from adapters.chain.rpc import HttpNode
from bot.bootstrap import build
from bot.settings import Settings
from tests.adapters.chain.ops import Actor, call_data
from tests.e2e.test_chain_deploy_cli import funded_key

from .test_pay_live import OP, balance, fresh_address, say

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]


async def test_after_set_executor_only_the_new_key_pays(anvil, new_postgres_database, tmp_path):
    deployer, owner_key, old_key, new_key = [await funded_key(anvil) for _ in range(4)]
    node = HttpNode(anvil.url)
    try:
        d = await deploy_stack(node, deployer, owner=Account.from_key(owner_key).address,
                               executor=Account.from_key(old_key).address, treasury_native=10**19)
        db = new_postgres_database()

        def settings(key: str) -> Settings:
            return Settings(_env_file=None, data_dir=tmp_path, rpc_url=anvil.url, private_key=key,
                            settlement_contract_address=d.settlement, database_url=db, operators=OP.ref)

        first, second, third = fresh_address(), fresh_address(), fresh_address()
        app = await build(settings(old_key))
        try:
            assert (await say(app, f"/pay {first} 0.1 CRO")).kind == "ok"
            owner = Actor(node, owner_key, d.chain_id)
            changed = await owner.send(d.settlement, call_data("setExecutor(address)", ["address"],
                                                               [Account.from_key(new_key).address]))
            assert changed["status"] == 1
            refused = await say(app, f"/pay {second} 0.1 CRO")  # a bot still running with the old key
            assert refused.kind == "error" and "executor" in refused.plain(), refused.plain()
        finally:
            await app.close()
        assert balance(anvil.url, second) == 0

        app = await build(settings(new_key))
        try:
            assert (await say(app, f"/pay {third} 0.1 CRO")).kind == "ok"
            history = (await say(app, "/history")).plain()
        finally:
            await app.close()
        assert balance(anvil.url, first) == balance(anvil.url, third) == 10**17
        assert f"{first[:6]}…".lower() in history.lower() and f"{third[:6]}…".lower() in history.lower()  # one history
    finally:
        await node.close()
