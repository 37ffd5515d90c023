"""The composition root: builds a running SnowRail from Settings (chain, database, queue and jobs, engine, mixer
and its watcher) as one App, and closes it again in reverse order."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.limits import MemoryRateLimiter
from adapters.queue.inline import InlineJob, InlineQueue
from bot import escrow_wiring, mixer_wiring
from bot.background import Deliveries, Periodic
from bot.settings import ConfigError, Settings
from bot.web_mode import web_access
from core.bulk import settle
from core.bulk.policy import BulkPolicy
from core.engine import Engine
from core.errors import UsageError
from core.jobs import Job
from core.metrics import Metrics
from core.money import parse_units
from core.ports import Chain, Clock, JobQueue, RateLimiter, UnitOfWorkFactory
from core.services import Policy

if TYPE_CHECKING:  # imported where built: the chain and database libraries are slow to import
    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.chain import Deployment, Web3Chain

log = logging.getLogger("snowrail.bootstrap")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    """Everything build() made. close() closes it all, the last-built first, through `resources`."""

    settings: Settings
    engine: Engine
    chain: Web3Chain
    uow: UnitOfWorkFactory
    db_engine: AsyncEngine
    queue: JobQueue
    jobs: dict[Job, InlineJob]  # what runs each job when jobs run inline (the queue is an InlineQueue)
    inline: bool  # jobs run in this process: nobody else delivers its notifications
    deliveries: Deliveries  # delivery by this process, once a chat runner names its notifier
    mixer_watch: Periodic | None  # announces wallet deposits into the pool; None without a mixer or a watch
    embedded_chain: bool
    database_url: str
    resources: AsyncExitStack
    notes: list[str] = field(default_factory=list)

    async def close(self) -> None:
        await self.resources.aclose()


async def build_chain(settings: Settings, metrics: Metrics | None = None) -> tuple[Web3Chain, Deployment | None]:
    """The configured chain, or the in-process dev chain when RPC_URL is unset with its Deployment (the owner key,
    for the console's own mixer pool; the dev price feeds, {pair: address}). `metrics`: times its RPC calls."""
    from adapters.chain import connect, dev_chain

    if not settings.rpc_url:
        return dev_chain()
    settings.require("private_key", "settlement_contract_address")
    assert settings.private_key is not None and settings.settlement_contract_address is not None
    chain = await connect(
        settings.rpc_url,
        settings.private_key.get_secret_value(),
        settings.settlement_contract_address,
        chain_id=settings.chain_id,
        tokens=settings.tokens or None,
        explorer_base=settings.explorer_url,
        metrics=metrics,
    )
    _warn_raw_keys(settings, chain.chain_id)
    return chain, None


def _warn_raw_keys(settings: Settings, chain_id: int) -> None:
    """A raw key in the environment is fine on a dev chain; on Cronos it is one `env` away from being read."""
    from bot.keys import REAL_MONEY_CHAINS

    if chain_id not in REAL_MONEY_CHAINS:
        return
    for name in ("private_key", "mixer_relayer_key"):
        if getattr(settings, name) is not None and getattr(settings, f"{name}_file") is None:
            log.warning("%s is a raw key in the environment on chain %d; keep it in a keystore instead: "
                        "`snowrail keys new --out FILE`, then %s_FILE and %s_PASSWORD_FILE", name.upper(), chain_id,
                        name.upper(), name.upper())


async def build(
    settings: Settings,
    *,
    extra_operators: frozenset[str] = frozenset(),
    extra_admins: frozenset[str] = frozenset(),
    queue: JobQueue | None = None,
    migrate: bool = True,
    watch: bool = True,
    metrics: Metrics | None = None,
    clock: Clock | None = None,
) -> App:
    """`queue`: the caller's own (and the caller closes it); by default RQ or inline, see build_queue.
    `clock`: what the engine reads the time from (default the system's; tests pass one they advance).
    `watch`: run the mixer's deposit watcher in this process (a bot does; RQ workers do not).
    `metrics`: where the engine and the chain report (default: the process's, bot.health, when HEALTH_PORT is on)."""
    from bot.health import process_metrics

    resources = AsyncExitStack()
    try:
        return await _build(settings, resources, extra_operators, queue, migrate, watch, extra_admins,
                            metrics or process_metrics(), clock or SystemClock())
    except BaseException:
        await resources.aclose()
        raise


async def _build(settings: Settings, resources: AsyncExitStack, extra_operators: frozenset[str],
                 queue: JobQueue | None, migrate: bool, watch: bool, extra_admins: frozenset[str] = frozenset(),
                 metrics: Metrics | None = None, clock: Clock | None = None) -> App:
    from adapters.db import create_engine_for
    from adapters.db.migrate import upgrade
    from adapters.db.uow import make_uow_factory

    rates = settings.rate_limits()  # a malformed RATE_LIMIT_* stops the start before anything connects
    chain, dev = await build_chain(settings, metrics)
    embedded, dev_feeds = dev is not None, (dev.price_feeds if dev is not None else {})
    resources.push_async_callback(chain.close)
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
    resources.push_async_callback(db_engine.dispose)
    uow = make_uow_factory(db_engine)
    mixer = await mixer_wiring.build(settings, chain, notes, db_engine, resources, dev=dev)
    escrow, prices = await escrow_wiring.build(settings, chain, dev_feeds, embedded=embedded)
    # The registry is filled once the engine exists (its jobs call the engine), before anything can enqueue.
    jobs: dict[Job, InlineJob] = {}
    if queue is None:
        queue = build_queue(settings, jobs, shareable=not embedded and bool(settings.database_url), resources=resources)
    clock = clock or SystemClock()
    low_balance, low_gas = _low_balance(settings, chain)
    engine = Engine(
        chain=chain, uow=uow, clock=clock, queue=queue, mixer=mixer,
        policy=Policy(
            # Roles seeded by the settings; roles given in chat are stored (core.roles) and override all but ADMINS.
            operators=settings.operator_refs() | extra_operators,
            admins=settings.admin_refs() | extra_admins,
            approvers=settings.approver_refs(),
            confirm_above=_limits(settings, chain),
            approval_threshold=_amounts("APPROVAL_THRESHOLD", settings.approval_thresholds(), chain),
            approvals_required=settings.approvals_required,
            daily_limit=_amounts("OPERATOR_DAILY_LIMIT", settings.operator_daily_limits(), chain),
            approval_ttl=settings.approval_ttl_delta(),
            schedule_grace=timedelta(hours=settings.schedule_grace_hours),
            schedule_remind_before=settings.schedule_remind_before_delta(),
            schedule_max_per_user=settings.schedule_max_per_user,
            low_balance=low_balance, low_gas=low_gas,
            receipt_timeout=float(settings.receipt_timeout_seconds),
            price_max_age=timedelta(seconds=settings.price_max_age_seconds),
            escrow_expiry=timedelta(days=settings.escrow_expiry_days),
            tx_pending_notice=timedelta(seconds=settings.tx_pending_notice_seconds),
            price_alerts_max=settings.price_alerts_max_per_user,
            bot_name=settings.bot_name,
            mixer_off="" if mixer is not None else mixer_wiring.off_reason(settings, embedded),
        ),
        bulk=BulkPolicy(
            chunk_size=min(chain.batch_capacity, settings.bulk_chunk_size or chain.batch_capacity),
            uploads_per_hour=settings.bulk_uploads_per_hour,
            rows_per_day=settings.bulk_rows_per_day,
            max_rows=settings.bulk_max_rows,
        ),
        limiter=build_limiter(settings, clock, resources), rates=rates, metrics=metrics,
        escrow=escrow, prices=prices, web=web_access(settings),
    )
    deliveries = Deliveries(engine)
    jobs.update({
        Job.DELIVER_NOTIFICATIONS: deliveries,
        Job.RECONCILE: engine.reconcile,
        Job.BULK_SETTLE: partial(settle.work, engine.services),
    })
    mixer_watch = None
    if mixer is not None and watch:
        mixer_watch = Periodic(mixer_wiring.WATCH_SECONDS, engine.watch_mixer, "mixer deposit watch").start()
        resources.push_async_callback(mixer_watch.stop)
    return App(settings, engine, chain, uow, db_engine, queue, jobs, isinstance(queue, InlineQueue), deliveries,
               mixer_watch, embedded, url, resources, notes)


def build_queue(settings: Settings, jobs: dict[Job, InlineJob], *, shareable: bool = True,
                resources: AsyncExitStack) -> JobQueue:
    """RQ when Redis is configured and workers elsewhere can see the same chain and database; otherwise
    jobs run inline, from `jobs` (an in-process chain or a local SQLite file cannot be shared with a worker)."""
    if settings.redis_url and shareable:
        from adapters.queue.rq_queue import RqQueue
        from workers.registry import RQ_FUNCTIONS

        rq = RqQueue(settings.redis_url, RQ_FUNCTIONS)
        resources.callback(rq.connection.close)
        return rq
    inline = InlineQueue(jobs)
    resources.push_async_callback(inline.drain)  # closed before the engine's chain and database: jobs use them
    return inline


def build_limiter(settings: Settings, clock: Clock, resources: AsyncExitStack) -> RateLimiter:
    """Redis when REDIS_URL is set, so every bot process counts against the same limits; else this process's memory."""
    if settings.redis_url:
        from adapters.limits.redis_limiter import RedisRateLimiter

        limiter = RedisRateLimiter(settings.redis_url)
        resources.push_async_callback(limiter.close)
        return limiter
    return MemoryRateLimiter(clock)


async def _fingerprint(chain: Web3Chain) -> str:
    """Names a SQLite file after the chain (its genesis block: a restarted anvil is a new chain) and the
    contract it records, so history never points at a chain that no longer exists."""
    genesis = (await chain.node.request("eth_getBlockByNumber", ["0x0", False]))["hash"]
    return f"{chain.chain_id}-{genesis[2:10]}-{chain.treasury[2:10].lower()}"


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _low_balance(settings: Settings, chain: Chain) -> tuple[dict[str, int], int | None]:
    """LOW_BALANCE_ALERT in base units: Policy.low_balance per token, and Policy.low_gas for the executor (its GAS
    entry, else the native token's)."""
    floors: dict[str, int] = {}
    for symbol, amount in settings.low_balance_limits().items():
        try:
            token = chain.tokens.native if symbol == "GAS" else chain.tokens.get(symbol)
            floors[symbol] = parse_units(amount, token)
        except UsageError as e:
            raise ConfigError(f"LOW_BALANCE_ALERT: {e.message}") from None
    gas = floors.pop("GAS", floors.get(chain.tokens.native.symbol))
    return floors, gas


def _limits(settings: Settings, chain: Chain) -> dict[str, int]:
    out = {}
    for symbol, amount in settings.confirm_limits().items():
        try:
            out[symbol] = parse_units(amount, chain.tokens.get(symbol))
        except UsageError as e:
            raise ConfigError(f"PAY_CONFIRM_ABOVE: {e.message}") from None
    return out


def _amounts(name: str, amounts: dict[str, str], chain: Chain) -> dict[str, int]:
    """Whole-unit amounts per token symbol, as base units of the chain's tokens."""
    out = {}
    for symbol, amount in amounts.items():
        try:
            out[symbol] = parse_units(amount, chain.tokens.get(symbol))
        except UsageError as e:
            raise ConfigError(f"{name}: {e.message}") from None
    return out
