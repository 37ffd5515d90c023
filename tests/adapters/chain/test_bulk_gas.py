"""[BULK2] Gas within 10% of the EVM floor, on anvil, and the bitmap's exactly-once.

A 200-row executeBatch (native, then ERC-20) to fresh recipients costs at most 1.10x per payout what a bare
Disperse-style loop (contracts/test/DisperseBaseline.sol) pays the same number of fresh recipients in one
transaction. Gas is deterministic, so this measures nothing timed. Then: a replayed signed batch, a re-signed
batch of the same rows, and a row listed twice each pay nothing more.
"""

from __future__ import annotations

import random
import time

import pytest
from eth_account import Account

from adapters.chain import settlement as st
from adapters.chain.deploy import deploy_stack
from adapters.chain.rpc import HttpNode
from bench.gas_floor import GasFloor
from tests.adapters.chain.ops import NATIVE, Actor, address_of, batch_call, events, rows_of, rows_paid, token_balance

pytestmark = pytest.mark.anvil

ROWS = 200
GOAL = 1.10


def fresh(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    return [Account.from_key(rnd.getrandbits(256).to_bytes(32, "big")).address for _ in range(n)]


@pytest.fixture(scope="module")
async def stack(anvil):
    node = HttpNode(anvil.url)
    deployer, executor = anvil.keys[6], anvil.keys[7]
    d = await deploy_stack(node, deployer, executor=address_of(executor), dev_tokens=True,
                           treasury_native=100 * 10**18)
    floor = await GasFloor.deploy(node, deployer)
    yield node, d, Actor(node, executor, d.chain_id), floor
    await node.close()


async def execute(stack, items: list[tuple[int, str, str, int]]) -> tuple[dict, bytes]:
    node, d, executor, _ = stack
    data = batch_call(executor.key, d.chain_id, d.settlement, rows_of(items), int(time.time()) + 3600)
    receipt = await executor.send(d.settlement, data, gas=16_000_000)
    assert receipt["status"] == 1
    return receipt, data


@pytest.mark.parametrize("symbol", ["CRO", "USDC"])
async def test_a_200_row_batch_costs_within_ten_percent_of_a_bare_disperse_loop(stack, symbol):
    node, d, executor, floor = stack
    token = NATIVE if symbol == "CRO" else d.tokens[symbol]
    seed = 1 if symbol == "CRO" else 2
    ours_to, floor_to = fresh(ROWS, seed), fresh(ROWS, seed + 100)
    amounts = [10**12 + i for i in range(ROWS)]
    first = 256 * (10 + seed)  # a fresh bitmap word, as the database hands out
    receipt, _ = await execute(stack, [(first + i, token, to, a) for i, (to, a) in enumerate(zip(ours_to, amounts))])
    assert rows_paid(receipt, d.settlement) == {first + i for i in range(ROWS)}
    if symbol == "CRO":
        assert [await node.balance(a) for a in ours_to[:3]] == amounts[:3]
    else:
        assert [await token_balance(node, token, a) for a in ours_to[:3]] == amounts[:3]
    baseline = await floor.disperse(floor_to, amounts, token=None if symbol == "CRO" else token, chunk=ROWS)
    ours, base = receipt["gas_used"] / ROWS, baseline / ROWS
    print(f"{symbol}: {ours:.0f} gas per payout, baseline {base:.0f}, ratio {ours / base:.3f}")
    assert ours <= GOAL * base, f"{symbol}: {ours:.0f} gas per payout is over {GOAL} x the floor's {base:.0f}"


async def test_a_replayed_or_re_signed_batch_and_a_row_listed_twice_pay_nothing_more(stack):
    node, d, executor, _ = stack
    to = fresh(4, 9)
    first = 256 * 40 + 250  # rows 250..253 of one word; the last row id sits in the next word
    items = [(first + i, NATIVE, a, 10**15) for i, a in enumerate(to[:3])] + [(256 * 41 + 7, NATIVE, to[3], 10**15)]
    receipt, data = await execute(stack, items)
    assert rows_paid(receipt, d.settlement) == {i[0] for i in items}
    # The same signed bytes again (a replay): the executor sends them, every row is skipped, nobody is paid.
    again = await executor.send(d.settlement, data, gas=2_000_000)
    assert again["status"] == 1
    assert [n for n, _, _ in events(again, d.settlement)] == ["RowSkipped"] * 4
    # Re-signed (a chunk signed again after a crash, or a row in a second chunk), and a row listed twice:
    resigned, _ = await execute(stack, items[:2] + [(first + 9, NATIVE, to[0], 10**15)] * 2)
    assert rows_paid(resigned, d.settlement) == {first + 9}
    assert [n for n, _, _ in events(resigned, d.settlement)] == ["RowSkipped"] * 3 + ["RowsPaid"]
    assert await node.balance(to[0]) == 2 * 10**15 and await node.balance(to[1]) == 10**15
    for row_id in (first, first + 9, 256 * 41 + 7):
        out = await node.call({"to": d.settlement, "data": st.selector("isRowPaid(uint256)") + row_id.to_bytes(32, "big")})
        assert int.from_bytes(out, "big") == 1
