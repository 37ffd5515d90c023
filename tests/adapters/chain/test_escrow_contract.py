"""The Settlement's escrow on anvil (issue 13), through raw transactions and through SettlementEscrow: funding with
the native coin and ERC-20s, top-ups and surplus, release and refund exactly once, the funder's own refund after
expiry with no bot, and escrowed funds kept apart from the treasury."""

from __future__ import annotations

import asyncio
import os

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account

from adapters.chain import Web3Chain
from adapters.chain import escrow as ex
from adapters.chain import settlement as st
from adapters.chain.batches import execute_batch_calldata
from adapters.chain.deploy import deploy_stack
from adapters.chain.escrow import SettlementEscrow
from adapters.chain.rpc import HttpNode
from core.errors import ChainRejected
from core.escrow.ports import EscrowTerms, OnChain
from core.money import Token

from .ops import (
    NATIVE, Actor, address_of, call_data, events, intent, payment, row_id, rows_of, sign_batch, sign_execute,
    token_balance,
)

pytestmark = pytest.mark.anvil

CRO = Token("CRO", 18, native=True)
PAY = f"execute({st.PAYMENT_TUPLE},uint256,bytes)"


class World:
    """A Settlement of its own (the session's anvil), its executor's adapter, and two funders."""

    def __init__(self, node, d, owner, executor, alice, mallory, chain, escrow):
        self.node, self.d, self.contract = node, d, d.settlement
        self.owner, self.executor, self.alice, self.mallory = owner, executor, alice, mallory
        self.chain, self.escrow = chain, escrow
        self.usdc = Token("USDC", 6, d.tokens["USDC"])

    async def now(self) -> int:
        return (await self.escrow.head())[1]

    async def terms(self, token: Token, amount: int, *, recipient: str | None = None, ttl: int = 3600) -> EscrowTerms:
        to = recipient or Account.create().address
        return EscrowTerms(token, to, amount, await self.now() + ttl, "0x" + os.urandom(32).hex())

    async def fund(self, who: Actor, terms: EscrowTerms, value: int) -> dict:
        """What a wallet does with the funding links: approve (ERC-20), then fund."""
        if not terms.token.native:
            approve = call_data("approve(address,uint256)", ["address", "uint256"], [self.contract, value])
            assert (await who.send(terms.token.address, approve))["status"] == 1
        native = value if terms.token.native else 0
        return await who.send(self.contract, ex.fund_calldata(terms, value), value=native, gas=300_000)

    async def mint(self, token: Token, to: str, amount: int) -> None:
        data = call_data("mint(address,uint256)", ["address", "uint256"], [to, amount])
        assert (await self.owner.send(token.address, data))["status"] == 1

    async def run(self, signed) -> dict:
        tx_hash = await self.chain.broadcast(signed.raw)
        for _ in range(500):  # anvil mines it at once, but the receipt can take a moment to show
            if (receipt := await self.node.receipt(tx_hash)) is not None:
                return receipt
            await asyncio.sleep(0.01)
        raise AssertionError(f"{tx_hash} was not mined")

    async def release(self, h: str) -> dict:
        return await self.run(await self.escrow.sign_release(h, await self.chain.pending_nonce()))

    async def refund(self, h: str) -> dict:
        return await self.run(await self.escrow.sign_refund(h, await self.chain.pending_nonce()))

    async def escrowed(self, token: str) -> int:
        out = await self.node.call({"to": self.contract, "data": call_data("escrowed(address)", ["address"], [token])})
        return int.from_bytes(out, "big")

    async def balance(self, token: Token, who: str) -> int:
        return await self.node.balance(who) if token.native else await token_balance(self.node, token.address, who)

    async def travel(self, seconds: int) -> None:
        await self.node.request("evm_increaseTime", [seconds])
        await self.node.request("evm_mine", [])


@pytest.fixture(scope="module")
async def w(anvil):
    node = HttpNode(anvil.url)
    deployer, executor_key = anvil.keys[4], anvil.keys[3]
    d = await deploy_stack(node, deployer, executor=address_of(executor_key), dev_tokens=True,
                           treasury_native=50 * 10**18, token_supply_whole=1_000)
    chain = await Web3Chain(node, executor_key, d.settlement, tokens=d.registry()).ready()
    world = World(node, d, Actor(node, deployer, d.chain_id), Actor(node, executor_key, d.chain_id),
                  Actor(node, anvil.keys[5], d.chain_id), Actor(node, anvil.keys[6], d.chain_id), chain,
                  SettlementEscrow(chain, log_chunk=3))
    await world.mint(world.usdc, world.alice.address, 10**12)
    await world.mint(world.usdc, world.mallory.address, 10**12)
    yield world
    await node.close()


# ---------------------------------------------------------------- the intent hash and the links
async def test_the_local_intent_hash_is_the_contracts(w):
    for token in (CRO, w.usdc):
        terms = await w.terms(token, 12_345)
        out = await w.node.call({"to": w.contract, "data": ex.intent_hash_of_calldata(terms)})
        assert w.escrow.intent_hash(terms) == "0x" + out.hex()
    native, usdc = await w.terms(CRO, 1), await w.terms(w.usdc, 1)
    same_but_usdc = EscrowTerms(w.usdc, native.recipient, native.amount, native.expiry, native.salt)
    assert w.escrow.intent_hash(native) != w.escrow.intent_hash(same_but_usdc) != w.escrow.intent_hash(usdc)


def test_funding_links_follow_eip_681():
    settlement, recipient, token = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
    salt = "0x" + "ab" * 32
    native = EscrowTerms(CRO, recipient, 10**19, 1_900_000_000, salt)
    [link] = ex.funding_links(25, settlement, native, 12 * 10**18)
    s, r = "0x1111111111111111111111111111111111111111", "0x2222222222222222222222222222222222222222"
    assert link == (f"ethereum:{s}@25/fundIntent?address={r}&uint256=10000000000000000000&uint64=1900000000"
                    f"&bytes32={salt}&value=12000000000000000000")
    usdc = EscrowTerms(Token("USDC", 6, token), recipient, 10_000_000, 1_900_000_000, salt)
    approve, fund = ex.funding_links(338, settlement, usdc, 4_000_000)
    t = "0x3333333333333333333333333333333333333333"
    assert approve == f"ethereum:{t}@338/approve?address={s}&uint256=4000000"
    assert fund == (f"ethereum:{s}@338/fundIntentToken?address={t}&address={r}&uint256=10000000&uint64=1900000000"
                    f"&bytes32={salt}&uint256=4000000")


# ---------------------------------------------------------------- funding
async def test_native_funding_is_held_and_announced(w):
    terms = await w.terms(CRO, 3 * 10**18)
    h = w.escrow.intent_hash(terms)
    before, held = await w.node.balance(w.contract), await w.escrowed(NATIVE)
    assert (await w.escrow.escrow(h)).status is OnChain.NONE
    r = await w.fund(w.alice, terms, 3 * 10**18)
    assert r["status"] == 1
    [(name, topics, data)] = events(r, w.contract)
    assert name == "IntentFunded" and "0x" + topics[0].hex() == h
    assert abi_decode(["uint256", "uint256"], data) == (3 * 10**18, 3 * 10**18)
    state = await w.escrow.escrow(h)
    assert (state.status, state.funder, state.funded) == (OnChain.OPEN, w.alice.address, 3 * 10**18)
    assert await w.node.balance(w.contract) == before + 3 * 10**18
    assert await w.escrowed(NATIVE) == held + 3 * 10**18
    [event] = await w.escrow.events(r["block_number"], r["block_number"])
    assert (event.kind, event.intent_hash, event.funder, event.value) == ("funded", h, w.alice.address, 3 * 10**18)


async def test_erc20_partial_funding_then_a_top_up(w):
    terms = await w.terms(w.usdc, 10_000_000)
    h = w.escrow.intent_hash(terms)
    first = await w.fund(w.alice, terms, 4_000_000)
    assert (await w.escrow.escrow(h)).funded == 4_000_000  # "funded 4 of 10 USDC"
    with pytest.raises(ChainRejected, match="holds 4000000 of the 10000000"):
        await w.escrow.sign_release(h, await w.chain.pending_nonce())
    second = await w.fund(w.alice, terms, 6_000_000)
    state = await w.escrow.escrow(h)
    assert (state.status, state.funded) == (OnChain.OPEN, 10_000_000)
    found = await w.escrow.events(first["block_number"], second["block_number"])
    assert [(e.kind, e.value) for e in found if e.intent_hash == h] == [("funded", 4_000_000), ("funded", 6_000_000)]
    assert found == sorted(found, key=lambda e: (e.block_number, e.log_index))


async def test_only_the_first_funder_may_top_up(w):
    terms = await w.terms(w.usdc, 5_000_000)
    await w.fund(w.alice, terms, 1_000_000)
    approve = call_data("approve(address,uint256)", ["address", "uint256"], [w.contract, 10**6])
    await w.mallory.send(w.usdc.address, approve)
    name, raw = await w.mallory.revert_of(w.contract, ex.fund_calldata(terms, 10**6))
    assert name == "NotFunder" and abi_decode(["bytes32", "address"], raw[4:])[1].lower() == w.alice.address.lower()
    assert (await w.escrow.escrow(w.escrow.intent_hash(terms))).funded == 1_000_000


async def test_nothing_is_funded_with_zero_a_past_expiry_or_zero_recipient(w):
    terms = await w.terms(CRO, 10**18)
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(terms, 0)))[0] == "ZeroAmount"
    late = EscrowTerms(CRO, terms.recipient, terms.amount, await w.now() - 1, terms.salt)
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(late, 1), value=1))[0] == "ExpiryNotInFuture"
    nobody = EscrowTerms(CRO, NATIVE, terms.amount, terms.expiry, terms.salt)
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(nobody, 1), value=1))[0] == "ZeroRecipient"
    nothing = EscrowTerms(CRO, terms.recipient, 0, terms.expiry, terms.salt)
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(nothing, 1), value=1))[0] == "ZeroAmount"
    as_token = call_data("fundIntentToken(address,address,uint256,uint64,bytes32,uint256)",
                         ["address", "address", "uint256", "uint64", "bytes32", "uint256"],
                         [NATIVE, terms.recipient, 1, terms.expiry, bytes.fromhex(terms.salt[2:]), 1])
    assert (await w.alice.revert_of(w.contract, as_token))[0] == "ZeroToken"


async def test_low_intent_funded_only_for_funds_received(w):
    """A fee-on-transfer token, or one that claims a transfer it did not make, is refused: no event, nothing held."""
    fee_token = await w.owner.deploy("FeeOnTransferToken")
    token = Token("FEE", 18, fee_token)
    await w.alice.send(fee_token, call_data("mint(address,uint256)", ["address", "uint256"], [w.alice.address, 10**9]))
    terms = await w.terms(token, 10_000)
    h = w.escrow.intent_hash(terms)
    r = await w.fund(w.alice, terms, 10_000)
    assert r["status"] == 0 and events(r, w.contract) == []
    name, raw = await w.alice.revert_of(w.contract, ex.fund_calldata(terms, 10_000))
    assert name == "FeeOnTransferRefused" and raw[16:36] == bytes.fromhex(fee_token[2:])
    await w.alice.send(fee_token, call_data("setLying(bool)", ["bool"], [True]))
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(terms, 10_000)))[0] == "FeeOnTransferRefused"
    assert (await w.escrow.escrow(h)).status is OnChain.NONE and await w.escrowed(fee_token) == 0


# ---------------------------------------------------------------- release and refund
async def test_release_pays_the_amount_and_returns_the_surplus_once(w):
    terms = await w.terms(w.usdc, 10_000_000)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 7_000_000)
    await w.fund(w.alice, terms, 5_000_000)  # 12 of 10: over-funded
    alice_before, treasury_before = await w.balance(w.usdc, w.alice.address), await w.escrowed(w.usdc.address)
    r = await w.release(h)
    assert r["status"] == 1
    assert await w.balance(w.usdc, terms.recipient) == 10_000_000
    assert await w.balance(w.usdc, w.alice.address) == alice_before + 2_000_000
    assert await w.escrowed(w.usdc.address) == treasury_before - 12_000_000
    state = await w.escrow.escrow(h)
    assert (state.status, state.funded) == (OnChain.RELEASED, 12_000_000)
    [event] = [e for e in await w.escrow.events(r["block_number"], r["block_number"]) if e.intent_hash == h]
    assert (event.kind, event.value) == ("released", 12_000_000)
    print(f"\ngas: ERC-20 release with a surplus = {r['gas_used']}")
    with pytest.raises(ChainRejected, match="not open on chain"):
        await w.escrow.sign_release(h, await w.chain.pending_nonce())
    with pytest.raises(ChainRejected, match="not open on chain"):
        await w.escrow.sign_refund(h, await w.chain.pending_nonce())
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(terms, 1)))[0] == "IntentNotOpen"


async def test_a_native_release_and_its_replay(w):
    terms = await w.terms(CRO, 2 * 10**18)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 2 * 10**18)
    signed = await w.escrow.sign_release(h, await w.chain.pending_nonce())
    r = await w.run(signed)
    assert r["status"] == 1 and await w.node.balance(terms.recipient) == 2 * 10**18
    print(f"\ngas: native release = {r['gas_used']}")
    # The same authorisation again, in a new transaction of the executor's: the intent is closed.
    calldata = (await w.node.transaction(signed.tx_hash))["input"]
    name, raw = await w.executor.revert_of(w.contract, calldata)
    assert name == "IntentNotOpen"


async def test_the_executor_refunds_everything_to_the_funder(w):
    terms = await w.terms(w.usdc, 10_000_000)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 3_000_000)
    before = await w.balance(w.usdc, w.alice.address)
    r = await w.refund(h)
    assert r["status"] == 1 and await w.balance(w.usdc, w.alice.address) == before + 3_000_000
    assert await w.balance(w.usdc, terms.recipient) == 0
    assert (await w.escrow.escrow(h)).status is OnChain.REFUNDED
    [event] = [e for e in await w.escrow.events(r["block_number"], r["block_number"]) if e.intent_hash == h]
    assert (event.kind, event.funder, event.value) == ("refunded", w.alice.address, 3_000_000)
    print(f"\ngas: ERC-20 refund = {r['gas_used']}")
    with pytest.raises(ChainRejected, match="not open on chain"):
        await w.escrow.sign_refund(h, await w.chain.pending_nonce())


async def test_after_expiry_the_funder_takes_the_money_back_with_no_bot(w):
    """As if the bot had vanished: the funder's own transaction, no signature, once the expiry has passed."""
    terms = await w.terms(CRO, 10**18, ttl=60)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 10**18)
    refund_expired = ex.refund_expired_calldata(h)
    name, raw = await w.alice.revert_of(w.contract, refund_expired)
    assert name == "IntentNotExpired" and abi_decode(["bytes32", "uint64"], raw[4:])[1] == terms.expiry
    await w.travel(61)
    with pytest.raises(ChainRejected, match="expired"):
        await w.escrow.sign_release(h, await w.chain.pending_nonce())  # from the expiry on, only back to the funder
    assert (await w.mallory.revert_of(w.contract, ex.fund_calldata(terms, 1), value=1))[0] == "NotFunder"
    assert (await w.alice.revert_of(w.contract, ex.fund_calldata(terms, 1), value=1))[0] == "IntentExpired"
    held, before = await w.escrowed(NATIVE), await w.node.balance(w.alice.address)
    r = await w.mallory.send(w.contract, refund_expired, gas=200_000)  # anyone may send it: it pays the funder only
    assert r["status"] == 1
    assert await w.node.balance(w.alice.address) == before + 10**18
    assert await w.escrowed(NATIVE) == held - 10**18
    assert (await w.escrow.escrow(h)).status is OnChain.REFUNDED
    assert (await w.alice.revert_of(w.contract, refund_expired))[0] == "IntentNotOpen"


async def test_a_recipient_that_reverts_blocks_only_its_own_release(w):
    reverting = await w.owner.deploy("RevertingRecipient")
    terms = await w.terms(CRO, 10**18, recipient=reverting)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 10**18)
    with pytest.raises(ChainRejected, match="refused the transfer"):
        await w.escrow.sign_release(h, await w.chain.pending_nonce())
    state = await w.escrow.escrow(h)
    assert (state.status, state.funded) == (OnChain.OPEN, 10**18)
    before = await w.node.balance(w.alice.address)
    assert (await w.refund(h))["status"] == 1  # the funds were never stuck
    assert await w.node.balance(w.alice.address) == before + 10**18


async def test_only_the_executor_signs_and_submits_releases(w):
    terms = await w.terms(CRO, 10**15)
    h = w.escrow.intent_hash(terms)
    await w.fund(w.alice, terms, 10**15)
    deadline = await w.now() + 600
    intent_bytes = bytes.fromhex(h[2:])
    for kind, selector in (("Release", ex.RELEASE), ("Refund", ex.REFUND)):
        typed = ex._action_typed_data(kind, w.d.chain_id, w.contract, intent_bytes, deadline, 0)
        forged = bytes(Account.sign_typed_data(w.mallory.key, full_message=typed).signature)
        genuine = bytes(Account.sign_typed_data(w.executor.key, full_message=typed).signature)
        assert (await w.executor.revert_of(w.contract, ex.action_calldata(selector, intent_bytes, deadline, forged))
                )[0] == "InvalidSignature"
        assert (await w.mallory.revert_of(w.contract, ex.action_calldata(selector, intent_bytes, deadline, genuine))
                )[0] == "NotExecutor"
        assert (await w.executor.revert_of(w.contract, ex.action_calldata(selector, intent_bytes, deadline, genuine))
                )[0] is None
    assert (await w.escrow.escrow(h)).status is OnChain.OPEN


# ---------------------------------------------------------------- escrow is not treasury
async def test_a_fake_tokens_intent_funded_pays_nothing_of_the_treasury(w):
    """Mallory funds an intent in a token of her own: the event is real, but the hash binds that token, so the
    release pays her worthless token and nothing the treasury holds."""
    fake = await w.mallory.deploy("TestToken", ["string", "string", "uint8", "address"],
                                  ["USD Coin", "USDC", 6, w.mallory.address])
    fake_token = Token("USDC", 6, fake)
    await w.mallory.send(fake, call_data("mint(address,uint256)", ["address", "uint256"], [w.mallory.address, 10**15]))
    real = await w.terms(w.usdc, 10**9, recipient=w.mallory.address)
    forged = EscrowTerms(fake_token, real.recipient, real.amount, real.expiry, real.salt)
    r = await w.fund(w.mallory, forged, 10**9)
    assert r["status"] == 1 and events(r, w.contract)[0][0] == "IntentFunded"
    assert (await w.escrow.escrow(w.escrow.intent_hash(real))).status is OnChain.NONE  # the real intent: unfunded
    treasury_usdc = await token_balance(w.node, w.usdc.address, w.contract)
    with pytest.raises(ChainRejected, match="not open on chain"):
        await w.escrow.sign_release(w.escrow.intent_hash(real), await w.chain.pending_nonce())
    assert (await w.release(w.escrow.intent_hash(forged)))["status"] == 1
    assert await token_balance(w.node, fake, w.mallory.address) == 10**15  # her own token back to her
    assert await token_balance(w.node, w.usdc.address, w.contract) == treasury_usdc
    assert await token_balance(w.node, w.usdc.address, w.mallory.address) == 10**12  # not one real USDC more


async def test_treasury_payouts_and_sweeps_cannot_touch_escrowed_funds(w, anvil):
    node = w.node
    d = await deploy_stack(node, anvil.keys[4], executor=w.executor.address, dev_tokens=True,
                           treasury_native=10**18, token_supply_whole=0, dev_price_feed=False)
    chain = await Web3Chain(node, w.executor.key, d.settlement, tokens=d.registry()).ready()
    escrow = SettlementEscrow(chain)
    usdc = Token("USDC", 6, d.tokens["USDC"])
    data = call_data("mint(address,uint256)", ["address", "uint256"], [w.alice.address, 10**9])
    await w.owner.send(usdc.address, data)
    expiry = (await escrow.head())[1] + 3600
    native = EscrowTerms(CRO, Account.create().address, 5 * 10**18, expiry, "0x" + os.urandom(32).hex())
    tokens = EscrowTerms(usdc, native.recipient, 100_000_000, expiry, native.salt)
    await w.alice.send(d.settlement, ex.fund_calldata(native, 5 * 10**18), value=5 * 10**18)
    await w.alice.send(usdc.address, call_data("approve(address,uint256)", ["address", "uint256"],
                                               [d.settlement, 100_000_000]))
    await w.alice.send(d.settlement, ex.fund_calldata(tokens, 100_000_000))
    # The contract holds 6 CRO (1 treasury + 5 escrow) and 100 USDC (all escrow).
    deadline = (await escrow.head())[1] + 3600
    for token, amount, free in ((NATIVE, 2 * 10**18, 10**18), (usdc.address, 50_000_000, 0)):
        p = payment(intent("escrow-apart"), token, Account.create().address, amount)
        sig = sign_execute(w.executor.key, d.chain_id, d.settlement, p, deadline, 0)
        name, raw = await w.executor.revert_of(d.settlement, call_data(PAY, [st.PAYMENT_TUPLE, "uint256", "bytes"],
                                                                        [p, deadline, sig]))
        assert name == "InsufficientBalance" and abi_decode(["address", "uint256", "uint256"], raw[4:])[1] == free
        sweep = call_data("sweep(address,address,uint256)", ["address", "address", "uint256"],
                          [token, w.owner.address, amount])
        name, raw = await w.owner.revert_of(d.settlement, sweep)
        assert name == "InsufficientBalance" and abi_decode(["address", "uint256", "uint256"], raw[4:])[1] == free
        batch = rows_of([(row_id(), token, Account.create().address, amount)])
        calldata = execute_batch_calldata(batch, deadline, sign_batch(w.executor.key, d.chain_id, d.settlement, batch,
                                                                      deadline, 0))
        r = await w.executor.send(d.settlement, calldata, gas=500_000)
        [(name, _topics, _data)] = events(r, d.settlement)
        assert r["status"] == 1 and name == "RowFailed"
    # What the treasury does hold still pays, and every escrow still pays out in full.
    ok = payment(intent("escrow-apart-ok"), NATIVE, Account.create().address, 10**18)
    sig = sign_execute(w.executor.key, d.chain_id, d.settlement, ok, deadline, 0)
    r = await w.executor.send(d.settlement, call_data(PAY, [st.PAYMENT_TUPLE, "uint256", "bytes"], [ok, deadline, sig]))
    assert r["status"] == 1
    for terms in (native, tokens):
        signed = await escrow.sign_release(escrow.intent_hash(terms), await chain.pending_nonce())
        assert (await w.run(signed))["status"] == 1
    assert await node.balance(native.recipient) == 5 * 10**18
    assert await token_balance(node, usdc.address, native.recipient) == 100_000_000
    assert await node.balance(d.settlement) == 0
