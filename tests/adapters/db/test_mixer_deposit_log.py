"""SqlDepositLog on both backends: load, append (and overwrite a re-mined leaf), replace, one pool apart."""

from __future__ import annotations

from sqlalchemy import select

from adapters.db.mixer_repositories import SqlDepositLog
from adapters.db.mixer_tables import MixerDepositRow
from adapters.mixer import PoolDeposit

POOL = "0xAbCdEf0000000000000000000000000000000001"
OTHER = "0x00000000000000000000000000000000000000F2"
BIG = 2**254 + 12345  # commitments are field elements, far beyond BIGINT


def deposit(index: int, block: int, commitment: int | None = None) -> PoolDeposit:
    return PoolDeposit(commitment if commitment is not None else BIG + index, index, 1_700_000_000 + index, block,
                       "0x" + f"{index:x}".rjust(64, "a"))


async def test_load_append_overwrite_and_replace(engine) -> None:
    log = SqlDepositLog(engine)
    assert await log.load(25, POOL) is None
    await log.append(25, POOL, [], 7)  # a pool with no deposits yet still remembers how far it synced
    assert await log.load(25, POOL) == ([], 7)
    await log.append(25, POOL, [deposit(0, 8), deposit(1, 9)], 10)
    await log.append(25, POOL.lower(), [deposit(2, 11)], 12)
    deposits, synced = await log.load(25, POOL.upper().replace("0X", "0x"))
    assert synced == 12 and [d.leaf_index for d in deposits] == [0, 1, 2]
    assert deposits[0] == deposit(0, 8) and deposits[2].commitment == BIG + 2
    # A shallow reorg re-mined leaf 2 in block 13: the same leaf is overwritten, not duplicated.
    await log.append(25, POOL, [deposit(2, 13)], 14)
    deposits, synced = await log.load(25, POOL)
    assert synced == 14 and len(deposits) == 3 and deposits[2].block_number == 13
    # Another chain with the same address, and another pool, are kept apart.
    await log.append(338, POOL, [deposit(0, 1, commitment=5)], 2)
    await log.append(25, OTHER, [deposit(0, 3, commitment=6)], 4)
    assert (await log.load(338, POOL))[0][0].commitment == 5
    await log.replace(25, POOL, [deposit(0, 20, commitment=9)], 21)
    assert await log.load(25, POOL) == ([deposit(0, 20, commitment=9)], 21)
    assert (await log.load(25, OTHER))[0][0].commitment == 6


async def test_only_public_columns(engine) -> None:
    """Commitments and leaf indices are public; nothing of a note (nullifier, secret, hash) has a column."""
    columns = set(MixerDepositRow.__table__.columns.keys())
    assert columns == {"chain_id", "pool", "leaf_index", "commitment", "block_number", "tx_hash", "timestamp"}
    await SqlDepositLog(engine).append(25, POOL, [deposit(0, 1)], 1)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(MixerDepositRow.__table__.c.commitment))).scalar()
    assert stored == f"0x{BIG:064x}"


async def test_an_intent_keeps_its_mixer_commitment(uow) -> None:
    """A treasury deposit into a pool is an intent like any payout, plus the (public) commitment it deposits."""
    from datetime import datetime, timezone

    from core.model import Intent

    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    commitment = f"0x{BIG:064x}"
    async with uow() as u:
        await u.intents.add(Intent(id="mix-1", key="tg-1-1", actor_ref="telegram:1", recipient=POOL, token="CRO",
                                   amount=10**17, intent_hash="0x" + "01" * 32, created_at=now, updated_at=now,
                                   mixer_commitment=commitment))
        await u.commit()
    async with uow() as u:
        assert (await u.intents.get("mix-1")).mixer_commitment == commitment
