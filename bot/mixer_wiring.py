"""The privacy mixer in the composition root: pools from MIXER_* settings, the console's own pool, or None."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bot.settings import ConfigError, Settings
from core.errors import UsageError
from core.money import parse_units
from core.mixing import Mixer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.chain import Deployment, Web3Chain
    from adapters.mixer import MixerService
    from core.money import Token


async def build(settings: Settings, chain: Web3Chain, notes: list[str], db_engine: AsyncEngine,
                resources: AsyncExitStack, dev: Deployment | None = None) -> Mixer | None:
    """On the embedded dev chain (`dev`, its deployment) with no MIXER_CONTRACT_ADDRESS: a 0.1 CRO pool of its
    own (see _dev_pool). Otherwise pools from MIXER_CONTRACT_ADDRESS ("0xPool[@block],..."), relayed by
    MIXER_RELAYER_KEY taking MIXER_RELAYER_FEE (whole units of the native token, default 0) per withdrawal.
    Each pool's Deposit events are cached in the bot's database (`db_engine`), so a restart reads only new blocks; the relayer's
    nonces and failed relays (bounded by MIXER_FAILED_RELAYS_PER_NOTE/USER_PER_HOUR) are kept there too, so
    every process relaying from one database shares them. Its node and prover close with `resources`."""
    if not settings.mixer_contract_address:
        return await _dev_pool(settings, chain, dev, db_engine, resources) if dev is not None else None
    if not settings.rpc_url:
        notes.append("The privacy pool needs RPC_URL (a real node or anvil); /mix and /withdraw are off.")
        return None
    if settings.mixer_relayer_key is None:
        raise ConfigError("MIXER_RELAYER_KEY: the mixer's relayer needs its own key (not PRIVATE_KEY: the two "
                          "would race for nonces); fund it with gas for withdrawals.")
    relayer_key = settings.mixer_relayer_key.get_secret_value()
    if settings.private_key is not None and relayer_key == settings.private_key.get_secret_value():
        raise ConfigError("MIXER_RELAYER_KEY must differ from PRIVATE_KEY: both would send with the same nonces.")
    native = chain.tokens.native
    try:
        fee = parse_units(settings.mixer_relayer_fee, native) if settings.mixer_relayer_fee.strip() not in ("", "0") else 0
    except UsageError as e:
        raise ConfigError(f"MIXER_RELAYER_FEE: {e.message}") from None

    from adapters.chain import HttpNode
    from adapters.mixer import parse_pools_setting

    node = HttpNode(settings.rpc_url)
    resources.push_async_callback(node.close)
    try:
        service = await _connect(settings, node, settings.mixer_contract_address, relayer_key, fee, native, db_engine)
    except ValueError as e:  # a fee above a denomination, or two pools of one denomination
        raise ConfigError(f"MIXER_CONTRACT_ADDRESS / MIXER_RELAYER_FEE: {e}") from None
    resources.push_async_callback(service.close)
    await _check_allowed(chain, [address for address, _ in parse_pools_setting(settings.mixer_contract_address)], notes)
    return service


async def _connect(settings: Settings, node, pools: str, relayer_key: str, fee: int, native: Token,  # noqa: ANN001
                   db_engine: AsyncEngine) -> MixerService:
    from adapters.db.mixer_repositories import SqlDepositLog, SqlRelayLog
    from adapters.mixer import MixerService, RelayLimits

    limits = RelayLimits(per_note=settings.mixer_failed_relays_per_note_per_hour,
                         per_user=settings.mixer_failed_relays_per_user_per_hour)
    return await MixerService.connect(node, pools, relayer_key, token=native, fee=fee, limits=limits,
                                      deposit_log=SqlDepositLog(db_engine), relays=SqlRelayLog(db_engine))


DEV_POOL = 10**17  # the seed's 0.1 CRO pool


async def _dev_pool(settings: Settings, chain: Web3Chain, dev: Deployment, db_engine: AsyncEngine,
                    resources: AsyncExitStack) -> Mixer | None:
    """The zero-setup console's mixer: when Node.js and the prover's files are here, a 0.1 CRO pool on the
    in-process chain, allow-listed by its owner, relayed for free by a fresh key (both gone when the chain is).
    Without them, None: off_reason() tells /mix how to add them. Costs ~0.05 s; the prover starts on first use."""
    from adapters.chain.devnet import TESTER_DEV_KEY
    from adapters.mixer.devpool import dev_pool, missing_prover_parts

    if missing_prover_parts() or dev.owner_key is None:
        return None
    pool = await dev_pool(chain.node, TESTER_DEV_KEY, dev.owner_key, dev.settlement, DEV_POOL)
    service = await _connect(settings, chain.node, pool.setting, pool.relayer_key, 0,
                             chain.tokens.native, db_engine)
    resources.push_async_callback(service.close)
    return service


def off_reason(settings: Settings, embedded: bool) -> str:
    """Why this bot serves no privacy pool, as /mix answers it: what to add, and how."""
    if embedded and not settings.mixer_contract_address:
        from adapters.mixer.devpool import missing_prover_parts

        missing = missing_prover_parts()
        if missing:
            return ("The privacy pool needs Node.js and the prover's files, and this machine lacks "
                    f"{', '.join(missing)}. Install Node.js 18 or later (e.g. `apt install nodejs npm`), run "
                    "`scripts/setup --node` for snarkjs, then start the console again: it makes a 0.1 CRO pool itself.")
    return ("The privacy pool is not available on this bot: no pool is configured. Its operator deploys one with "
            "`snowrail mixer deploy` and sets MIXER_CONTRACT_ADDRESS.")


async def _check_allowed(chain: Web3Chain, pools: list[str], notes: list[str]) -> None:
    """Operators' /mix deposits from the treasury only into pools the Settlement's owner allow-listed."""
    from adapters.chain import settlement as st

    try:
        refused = [p for p in pools
                   if not int.from_bytes(await chain.node.call(
                       {"to": chain.treasury, "data": st.mixer_pools_calldata(p)}), "big")]
    except Exception:  # noqa: BLE001 - an old Settlement without the function, or the node away: /mix says why
        refused = pools
    if refused:
        notes.append(f"The treasury may not deposit into the mixer pool(s) {', '.join(refused)}: an operator's "
                     "/mix will fail until the Settlement's owner calls setMixerPool(pool, true).")


WATCH_SECONDS = 5.0  # how often the bootstrap's watcher looks for wallet deposits: about one Cronos block
