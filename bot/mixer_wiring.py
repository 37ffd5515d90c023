"""The privacy mixer in the composition root: MixerService from MIXER_* settings, or None when unset."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bot.settings import ConfigError, Settings
from core.errors import UsageError
from core.money import parse_units
from core.mixing import Mixer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.chain import Web3Chain


async def build(settings: Settings, chain: Web3Chain, notes: list[str], db_engine: AsyncEngine,
                resources: AsyncExitStack) -> Mixer | None:
    """Pools from MIXER_CONTRACT_ADDRESS ("0xPool[@block],..."), relayed by MIXER_RELAYER_KEY taking
    MIXER_RELAYER_FEE (whole units of the native token, default 0) per withdrawal. Each pool's Deposit
    events are cached in the bot's database (`db_engine`), so a restart reads only new blocks; the relayer's
    nonces and failed relays (bounded by MIXER_FAILED_RELAYS_PER_NOTE/USER_PER_HOUR) are kept there too, so
    every process relaying from one database shares them. Its node and prover close with `resources`."""
    if not settings.mixer_contract_address:
        return None
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
    from adapters.db.mixer_repositories import SqlDepositLog, SqlRelayLog
    from adapters.mixer import MixerService, RelayLimits, parse_pools_setting

    limits = RelayLimits(per_note=settings.mixer_failed_relays_per_note_per_hour,
                         per_user=settings.mixer_failed_relays_per_user_per_hour)
    node = HttpNode(settings.rpc_url)
    resources.push_async_callback(node.close)
    try:
        service = await MixerService.connect(node, settings.mixer_contract_address, relayer_key, token=native,
                                             fee=fee, limits=limits, deposit_log=SqlDepositLog(db_engine),
                                             relays=SqlRelayLog(db_engine))
    except ValueError as e:  # a fee above a denomination, or two pools of one denomination
        raise ConfigError(f"MIXER_CONTRACT_ADDRESS / MIXER_RELAYER_FEE: {e}") from None
    resources.push_async_callback(service.close)
    await _check_allowed(chain, [address for address, _ in parse_pools_setting(settings.mixer_contract_address)], notes)
    return service


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
