"""Escrowed intents in motion on anvil and PostgreSQL (issue 13): a member's /pay, funding from their own wallet
(native and ERC-20, partial, top-up, surplus), release by hand, at a time and on a price (a stale feed fires
nothing), cancel and expiry refunds, the funder's own refund with the bot stopped, a log seen twice, and the
watcher killed with SIGKILL between funding and release."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account

from adapters.chain import escrow as ex
from adapters.chain.devnet import ANVIL_DEV_KEY, anvil_keys, deploy_dev_stack, start_anvil
from adapters.chain.rpc import HttpNode
from bot.bootstrap import App, build
from bot.settings import Settings
from core.commands import Actor
from core.escrow.handlers import terms_of
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.ports import OnChain
from core.escrow.watch import REORG_MARGIN
from core.model import NotificationType
from core.replies import loads
from tests.adapters.chain.ops import Actor as Wallet
from tests.adapters.chain.ops import call_data, token_balance

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
MIA = Actor("telegram", "21", "Mia", "mia")  # a member: not an operator
USDC = 10**6
CRO = 10**18


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    node: HttpNode
    deployer: Wallet  # owns the dev tokens
    funder: Wallet  # Mia's wallet
    usdc: str

    def settings(self, tmp_path: Path) -> Settings:
        return Settings(_env_file=None, data_dir=tmp_path, **{k.lower(): v for k, v in self.env.items()})

    async def mint(self, to: str, amount: int) -> None:
        data = call_data("mint(address,uint256)", ["address", "uint256"], [to, amount])
        assert (await self.deployer.send(self.usdc, data))["status"] == 1

    async def travel(self, seconds: int) -> None:
        await self.node.request("evm_increaseTime", [seconds])
        await self.node.request("evm_mine", [])

    async def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            await self.node.request("evm_mine", [])


@pytest.fixture
async def stack(new_postgres_database):
    """A fresh anvil per test: tests move its clock by days, and a shared chain would expire others' intents."""
    anvil = start_anvil()
    node = HttpNode(anvil.url)
    try:
        d = await deploy_dev_stack(anvil.url)
        keys = anvil_keys(6)
        env = {"RPC_URL": anvil.url, "PRIVATE_KEY": ANVIL_DEV_KEY, "SETTLEMENT_CONTRACT_ADDRESS": d.settlement,
               "TOKENS": ",".join(f"{s}={a}" for s, a in d.tokens.items()), "PRICE_FEEDS": d.price_feeds_setting(),
               "DATABASE_URL": new_postgres_database(), "OPERATORS": "console:op"}
        s = Stack(anvil.url, env, node, Wallet(node, ANVIL_DEV_KEY, d.chain_id), Wallet(node, keys[5], d.chain_id),
                  d.tokens["USDC"])
        await s.mint(s.funder.address, 1_000 * USDC)
        yield s
    finally:
        await node.close()
        anvil.stop()


@pytest.fixture
async def app(stack, tmp_path):
    app = await build(stack.settings(tmp_path))
    yield app
    await app.close()


class Later:
    """The bot's clock run ahead of the wall clock. Used instead of moving anvil's clock where the executor signs
    afterwards: the chain adapter dates its signatures' deadlines by the wall clock, so a chain days ahead would
    find them expired."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def later(app: App, **offset: float) -> None:
    app.engine.services.clock = Later(timedelta(**offset))


def recipient() -> str:
    return Account.create().address


async def pay(app: App, text: str) -> EscrowIntent:
    reply = await app.engine.handle_text(text, actor=MIA, key="tg-" + secrets.token_hex(6))
    assert reply.plain().startswith("Intent int-"), reply.plain()
    return await get(app, reply.plain().split()[1].rstrip(":"))


async def get(app: App, intent_id: str) -> EscrowIntent:
    async with app.uow() as uow:
        intent = await uow.escrows.get(intent_id)
    assert intent is not None
    return intent


async def fund(stack: Stack, app: App, intent: EscrowIntent, value: int) -> dict:
    """What Mia's wallet does with the funding link(s): approve (ERC-20), then fund."""
    terms = terms_of(app.engine.services, intent)
    if not terms.token.native:
        approve = call_data("approve(address,uint256)", ["address", "uint256"], [stack.env["SETTLEMENT_CONTRACT_ADDRESS"], value])
        assert (await stack.funder.send(terms.token.address, approve))["status"] == 1
    receipt = await stack.funder.send(stack.env["SETTLEMENT_CONTRACT_ADDRESS"], ex.fund_calldata(terms, value),
                                      value=value if terms.token.native else 0, gas=300_000)
    assert receipt["status"] == 1
    return receipt


async def until(app: App, intent: EscrowIntent, status: EscrowStatus, *, passes: int = 40) -> EscrowIntent:
    """Run due-time passes until the intent has `status` (anvil mines each transaction at once; a pass or two is
    enough, the bound only keeps a broken watcher from hanging the test)."""
    for _ in range(passes):
        await app.engine.tick()
        current = await get(app, intent.id)
        if current.status is status:
            return current
        await asyncio.sleep(0.02)
    raise AssertionError(f"{intent.id} stayed {current.status.value}, never {status.value}")


async def outbox(app: App, kind: NotificationType) -> list[tuple[str, str]]:
    async with app.uow() as uow:
        rows = await uow.outbox.pending(1_000)
    return [(n.user_ref, loads(n.body).plain()) for n in rows if n.type is kind]


async def released_logs(app: App, intent: EscrowIntent) -> int:
    escrow = app.engine.services.escrow
    assert escrow is not None
    head, _ = await escrow.head()
    logs = await escrow.events(0, head)
    return sum(1 for e in logs if e.kind == "released" and e.intent_hash.lower() == intent.intent_hash.lower())


# ------------------------------------------------------------------ funding and release by hand
async def test_erc20_partial_then_top_up_then_over_funded_release_pays_once_and_returns_the_surplus(stack, app):
    to = recipient()
    intent = await pay(app, f"/pay {to} 10 USDC")
    await app.engine.tick()
    await fund(stack, app, intent, 4 * USDC)
    await app.engine.tick()
    got = await get(app, intent.id)
    assert (got.status, got.funded, got.funder) == (EscrowStatus.AWAITING, 4 * USDC, stack.funder.address)
    assert any("funded 4 of 10 USDC" in t for _, t in await outbox(app, NotificationType.INTENT_FUNDED))
    await fund(stack, app, intent, 8 * USDC)  # 12 of 10: over-funded
    got = await until(app, intent, EscrowStatus.FUNDED)
    assert got.funded == 12 * USDC
    assert len(await outbox(app, NotificationType.DEPOSIT_CONFIRMED)) == 2
    before = await token_balance(stack.node, stack.usdc, stack.funder.address)

    reply = await app.engine.handle_text(f"/release {intent.id}", actor=MIA, key="tg-release-1")
    assert "Released" in reply.plain(), reply.plain()
    assert await token_balance(stack.node, stack.usdc, to) == 10 * USDC
    assert await token_balance(stack.node, stack.usdc, stack.funder.address) == before + 2 * USDC
    again = await app.engine.handle_text(f"/release {intent.id}", actor=MIA, key="tg-release-2")
    assert again.kind == "error" and await token_balance(stack.node, stack.usdc, to) == 10 * USDC
    await until(app, intent, EscrowStatus.RELEASED)
    assert await released_logs(app, intent) == 1
    assert [r for r, _ in await outbox(app, NotificationType.INTENT_EXECUTED)] == [MIA.ref]


async def test_native_funding_seen_twice_in_the_reorg_margin_changes_nothing(stack, app):
    intent = await pay(app, f"/pay {recipient()} 1.5 CRO")
    await app.engine.tick()
    await fund(stack, app, intent, 15 * CRO // 10)
    funded = await until(app, intent, EscrowStatus.FUNDED)
    rows = len(await outbox(app, NotificationType.DEPOSIT_CONFIRMED)) + len(await outbox(app, NotificationType.INTENT_FUNDED))
    for _ in range(REORG_MARGIN // 2):  # each pass re-reads the funding log inside the margin
        await stack.mine()
        await app.engine.tick()
    again = await get(app, intent.id)
    assert (again.status, again.funded, again.updated_at) == (funded.status, funded.funded, funded.updated_at)
    assert rows == len(await outbox(app, NotificationType.DEPOSIT_CONFIRMED)) + len(await outbox(app, NotificationType.INTENT_FUNDED))


# ------------------------------------------------------------------ conditions
async def test_a_time_intent_is_released_once_its_time_passes_on_chain(stack, app):
    to = recipient()
    intent = await pay(app, f"/pay {to} 5 USDC in 2 hours")
    await fund(stack, app, intent, 5 * USDC)
    await until(app, intent, EscrowStatus.FUNDED)
    await stack.mine()
    await app.engine.tick()
    assert await token_balance(stack.node, stack.usdc, to) == 0  # not due yet
    later(app, hours=3)
    await until(app, intent, EscrowStatus.RELEASED)
    assert await token_balance(stack.node, stack.usdc, to) == 5 * USDC and await released_logs(app, intent) == 1


async def test_a_price_intent_ignores_a_stale_feed_and_fires_on_a_fresh_price(stack, app):
    prices = app.engine.services.prices
    assert prices is not None
    to = recipient()
    intent = await pay(app, f"/pay {to} 2 USDC when CRO above 0.12 USD")
    await fund(stack, app, intent, 2 * USDC)
    await until(app, intent, EscrowStatus.FUNDED)
    head_time = (await app.engine.services.escrow.head())[1]  # type: ignore[union-attr]  # built on anvil
    await prices.set_round("CRO/USD", 13_000_000, head_time - 2 * 3600)  # above, but two hours old: stale
    for _ in range(3):
        await stack.mine()
        await app.engine.tick()
    stale = await get(app, intent.id)
    assert stale.status is EscrowStatus.FUNDED and "has not updated since" in (stale.note or "")
    assert await token_balance(stack.node, stack.usdc, to) == 0
    await prices.set_price("CRO/USD", 13_000_000)
    await until(app, intent, EscrowStatus.RELEASED)
    assert await token_balance(stack.node, stack.usdc, to) == 2 * USDC


# ------------------------------------------------------------------ refunds
async def test_cancel_refunds_the_funder(stack, app):
    intent = await pay(app, f"/pay {recipient()} 10 USDC")
    await fund(stack, app, intent, 3 * USDC)
    before = await token_balance(stack.node, stack.usdc, stack.funder.address)
    reply = await app.engine.handle_text(f"/cancel {intent.id}", actor=MIA, key="tg-cancel")
    assert "Refunded" in reply.plain(), reply.plain()
    assert await token_balance(stack.node, stack.usdc, stack.funder.address) == before + 3 * USDC
    await until(app, intent, EscrowStatus.REFUNDED)
    assert len(await outbox(app, NotificationType.INTENT_REFUNDED)) == 1


async def test_the_funders_own_refund_after_expiry_with_the_bot_stopped_is_recorded_on_restart(stack, app, tmp_path):
    intent = await pay(app, f"/pay {recipient()} 10 USDC")
    await fund(stack, app, intent, 10 * USDC)
    await until(app, intent, EscrowStatus.FUNDED)
    await app.close()  # the bot is gone
    await stack.travel(31 * 86_400)
    before = await token_balance(stack.node, stack.usdc, stack.funder.address)
    receipt = await stack.funder.send(stack.env["SETTLEMENT_CONTRACT_ADDRESS"], ex.refund_expired_calldata(intent.intent_hash))
    assert receipt["status"] == 1
    assert await token_balance(stack.node, stack.usdc, stack.funder.address) == before + 10 * USDC
    restarted = await build(stack.settings(tmp_path))
    try:
        done = await until(restarted, intent, EscrowStatus.REFUNDED)
        assert done.nonce is None  # nothing was signed by the bot
        [(_, text)] = await outbox(restarted, NotificationType.INTENT_REFUNDED)
        assert "took it back on chain" in text
    finally:
        await restarted.close()


async def test_expiry_refunds_what_is_held(stack, app):
    intent = await pay(app, f"/pay {recipient()} 10 USDC")
    await fund(stack, app, intent, 6 * USDC)
    await app.engine.tick()
    later(app, days=31)
    done = await until(app, intent, EscrowStatus.REFUNDED)
    assert done.nonce is not None  # the executor's refund
    state = await app.engine.services.escrow.escrow(intent.intent_hash)  # type: ignore[union-attr]  # built on anvil
    assert state.status is OnChain.REFUNDED


# ------------------------------------------------------------------ the watcher killed between funding and release
def _watcher(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.escrow_watcher"], cwd=REPO,
                            env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)


async def _statuses(app: App, intents: list[EscrowIntent]) -> list[EscrowStatus]:
    return [(await get(app, i.id)).status for i in intents]


async def _wait(app: App, intents: list[EscrowIntent], ok, what: str, p: subprocess.Popen, log: Path) -> None:
    for _ in range(600):
        if ok(await _statuses(app, intents)):
            return
        assert p.poll() is None, f"the watcher exited: {log.read_text()[-2000:]}"
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}: {await _statuses(app, intents)}\n{log.read_text()[-2000:]}")


async def test_the_watcher_killed_between_funding_and_release_releases_each_exactly_once(stack, app, tmp_path):
    tos = [recipient() for _ in range(4)]
    intents = [await pay(app, f"/pay {to} {n + 1} USDC when CRO above 0.12 USD") for n, to in enumerate(tos)]
    log = tmp_path / "watcher.log"
    first = _watcher(stack.env, log)
    try:
        for intent, n in zip(intents, range(4), strict=True):
            await fund(stack, app, intent, (n + 1) * USDC)
        await _wait(app, intents, lambda st: all(s is EscrowStatus.FUNDED for s in st), "funded", first, log)
    finally:
        _kill(first)  # SIGKILL: funded, nothing released yet
    prices = app.engine.services.prices
    assert prices is not None
    await prices.set_price("CRO/USD", 13_000_000)  # the condition becomes true while no watcher runs
    second = _watcher(stack.env, log)
    try:  # killed again as soon as it starts releasing: wherever that lands (signed, sent, recorded)
        await _wait(app, intents, lambda st: any(s is not EscrowStatus.FUNDED for s in st), "releasing", second, log)
    finally:
        _kill(second)
    third = _watcher(stack.env, log)
    try:
        await _wait(app, intents, lambda st: all(s is EscrowStatus.RELEASED for s in st), "released", third, log)
    finally:
        _kill(third)
    for intent, to, n in zip(intents, tos, range(4), strict=True):
        assert await token_balance(stack.node, stack.usdc, to) == (n + 1) * USDC
        assert await released_logs(app, intent) == 1
