"""Builds a running SnowRail from Settings: the chain, the database, the queue and the engine."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot import bulk_wiring, mixer_wiring
from bot.settings import ConfigError, Settings
from core.engine import Engine
from core.errors import UsageError
from core.money import parse_units
from core.ports import Chain, JobQueue
from core.services import Policy

log = logging.getLogger("snowrail.bootstrap")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    chain: Chain
    uow: object
    db_engine: object
    queue: JobQueue
    embedded_chain: bool
    database_url: str
    notes: list[str] = field(default_factory=list)

    async def close(self) -> None:
        await mixer_wiring.close(self.engine.services.mixer)
        drain = getattr(self.queue, "drain", None)
        if drain is not None:
            await drain()
        dispose = getattr(self.db_engine, "dispose", None)
        if dispose is not None:
            await dispose()
        closer = getattr(self.chain, "close", None)
        if closer is not None:
            await closer()


async def build_chain(settings: Settings) -> tuple[Chain, bool]:
    """The configured chain, or the in-process dev chain when RPC_URL is unset."""
    from adapters.chain import connect, dev_chain

    if not settings.rpc_url:
        chain, _deployment = dev_chain()
        return chain, True
    if not settings.private_key or not settings.settlement_contract_address:
        await _adopt_local_dev_stack(settings)
    settings.require("private_key", "settlement_contract_address")
    assert settings.private_key is not None
    chain = await connect(
        settings.rpc_url,
        settings.private_key.get_secret_value(),
        settings.settlement_contract_address,
        chain_id=settings.chain_id,
        tokens=settings.tokens or None,
        explorer_base=settings.explorer_url,
    )
    return chain, False


LOCAL_DEV_CHAIN_IDS = (31337, 1337)  # anvil and hardhat: chains whose dev keys are public


async def _adopt_local_dev_stack(settings: Settings) -> None:
    """`snowrail console --rpc http://127.0.0.1:8545` on a bare anvil: use its public dev key and deploy the
    stack once, remembering it per chain (genesis hash) under DATA_DIR. Never on any other chain."""
    import json

    from adapters.chain import HttpNode
    from adapters.chain.deploy import ANVIL_DEV_KEY, deploy_dev_stack

    assert settings.rpc_url
    node = HttpNode(settings.rpc_url)
    try:
        chain_id = await node.chain_id()
        if chain_id not in LOCAL_DEV_CHAIN_IDS:
            return  # settings.require names what is missing
        genesis = (await node.request("eth_getBlockByNumber", ["0x0", False]))["hash"]
        memo = settings.data_dir / "local-dev-stacks.json"
        known = json.loads(memo.read_text()) if memo.exists() else {}
        entry = known.get(genesis)
        if entry and settings.settlement_contract_address in (None, entry["settlement"]):
            code = await node.request("eth_getCode", [entry["settlement"], "latest"])
            entry = entry if code not in ("0x", "0x0", None) else None
        else:
            entry = None
        if settings.settlement_contract_address is None and entry is None:
            dep = await deploy_dev_stack(settings.rpc_url)
            if dep.owner_key:  # the owner is a key of its own (never the bot's): shown once, stored nowhere
                print(f"Deployed SnowRail on this local chain; its owner key, shown once (keep it to sweep or "
                      f"allow-list pools): {dep.owner_key}", file=sys.stderr)
            entry = {"settlement": dep.settlement, "tokens": ",".join(f"{k}={v}" for k, v in dep.tokens.items())}
            known[genesis] = entry
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            memo.write_text(json.dumps(known, indent=1))
        if entry:
            settings.settlement_contract_address = settings.settlement_contract_address or entry["settlement"]
            settings.tokens = settings.tokens or entry["tokens"]
        if settings.private_key is None:
            from pydantic import SecretStr

            settings.private_key = SecretStr(ANVIL_DEV_KEY)
    finally:
        await node.close()


async def build(
    settings: Settings,
    *,
    extra_operators: frozenset[str] = frozenset(),
    queue: JobQueue | None = None,
    migrate: bool = True,
) -> App:
    from adapters.db import create_engine_for
    from adapters.db.migrate import upgrade

    chain, embedded = await build_chain(settings)
    notes: list[str] = []
    url = settings.database_url
    if not url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.data_dir / ("embedded.sqlite3" if embedded else f"chain-{await _fingerprint(chain)}.sqlite3")
        if embedded and path.exists():
            # The in-process chain lives only as long as this process: so does its history.
            _remove_sqlite(path)
        url = f"sqlite+aiosqlite:///{path.resolve()}"
    if migrate:
        await upgrade(url)
    db_engine = create_engine_for(url)
    uow = bulk_wiring.uow_factory(db_engine)
    chain = bulk_wiring.batching(chain)
    policy = Policy(
        operators=settings.operator_refs() | extra_operators,
        confirm_above=_limits(settings, chain),
        receipt_timeout=float(settings.receipt_timeout_seconds),
    )
    if queue is None:
        queue = build_queue(settings, shareable=not embedded and bool(settings.database_url))
    engine = Engine(chain=chain, uow=uow, clock=SystemClock(), policy=policy, queue=queue,
                    mixer=await mixer_wiring.build(settings, chain, notes, db_engine))
    mixer_wiring.start_watch(engine)
    bulk_wiring.attach(engine, queue, chunk_size=settings.bulk_chunk_size,
                       uploads_per_hour=settings.bulk_uploads_per_hour, rows_per_day=settings.bulk_rows_per_day)
    return App(settings, engine, chain, uow, db_engine, queue, embedded, url, notes)


def build_queue(settings: Settings, *, shareable: bool = True) -> JobQueue:
    """RQ when Redis is configured and workers elsewhere can see the same chain and database; otherwise
    jobs run inline (an in-process chain or a local SQLite file cannot be shared with a worker)."""
    if settings.redis_url and shareable:
        from adapters.queue.rq_queue import RqQueue

        return RqQueue(settings.redis_url)
    from adapters.queue.inline import InlineQueue

    return InlineQueue()


async def _fingerprint(chain: Chain) -> str:
    """Names a SQLite file after the chain (its genesis block: a restarted anvil is a new chain) and the
    contract it records, so history never points at a chain that no longer exists."""
    genesis = (await chain.node.request("eth_getBlockByNumber", ["0x0", False]))["hash"]  # type: ignore[attr-defined]
    return f"{chain.chain_id}-{genesis[2:10]}-{chain.treasury[2:10].lower()}"


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _limits(settings: Settings, chain: Chain) -> dict[str, int]:
    out = {}
    for symbol, amount in settings.confirm_limits().items():
        try:
            out[symbol] = parse_units(amount, chain.tokens.get(symbol))
        except UsageError as e:
            raise ConfigError(f"PAY_CONFIRM_ABOVE: {e.message}") from None
    return out
