"""The doctor's outside checks: the chain (node, Settlement, executor, treasury, mixer) and the chat tokens."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.doctor import TIMEOUT, Report, _reason
from bot.settings import Settings
from core.money import Amount, Token

if TYPE_CHECKING:
    from adapters.chain import Web3Chain

# The application flags that grant the Message Content intent (verified or not): without one the bot cannot read
# server messages, so pasted keys and notes there are not spotted and deleted.
MESSAGE_CONTENT = (1 << 18) | (1 << 19)


async def chain_checks(report: Report, settings: Settings) -> None:
    """The node, then (when it answers) the Settlement, the executor's gas, the treasury and the mixer."""
    if not settings.rpc_url:
        report.ok("chain", "the in-process dev chain (embedded default: deployed and funded at start)")
        return
    from adapters.chain import HttpNode

    node = HttpNode(settings.rpc_url, timeout=TIMEOUT)
    try:
        chain_id = await node.chain_id()
    except Exception as e:  # noqa: BLE001
        report.fail("chain", f"the node at {node.label} is not answering ({_reason(e)}); check RPC_URL")
        return
    finally:
        await node.close()
    if settings.chain_id is not None and chain_id != settings.chain_id:
        report.fail("chain", f"the node at {node.label} serves chain {chain_id}, but CHAIN_ID is {settings.chain_id}; "
                             "point RPC_URL at the right network or fix CHAIN_ID")
        return
    report.ok("chain", f"the node at {node.label} answers, chain {chain_id}")
    chain = await _settlement(report, settings, chain_id)
    if chain is None:
        return
    try:
        await _executor_gas(report, settings, chain)
        await _treasury(report, chain)
        await _mixer(report, settings, chain)
    finally:
        await chain.close()


async def _settlement(report: Report, settings: Settings, chain_id: int) -> Web3Chain | None:
    """The Settlement has code at SETTLEMENT_CONTRACT_ADDRESS and trusts this key as its executor."""
    from adapters.chain import build

    if settings.private_key is None or not settings.settlement_contract_address:
        missing = " and ".join(n for n, v in (("PRIVATE_KEY (or PRIVATE_KEY_FILE)", settings.private_key),
                                              ("SETTLEMENT_CONTRACT_ADDRESS", settings.settlement_contract_address)) if not v)
        report.fail("settlement", f"{missing} not set; `snowrail chain deploy` prints them")
        return None
    try:
        chain = build(settings.rpc_url or "", settings.private_key.get_secret_value(),
                      settings.settlement_contract_address, chain_id, settings.tokens or None, timeout=TIMEOUT)
    except ValueError as e:  # our own messages: never the key
        report.fail("settlement", f"{e}")
        return None
    try:
        code = await chain.node.code(chain.treasury)
        if not code:
            report.fail("settlement", f"no contract at {chain.treasury} on chain {chain_id}; check "
                                      "SETTLEMENT_CONTRACT_ADDRESS (or deploy with `snowrail chain deploy`)")
            await chain.close()
            return None
        trusted = await chain.onchain_executor()
        _ = chain.tokens  # a malformed TOKENS setting is reported here
    except Exception as e:  # noqa: BLE001
        report.fail("settlement", f"cannot read the Settlement at {settings.settlement_contract_address} ({_reason(e)})")
        await chain.close()
        return None
    if trusted.lower() != chain.executor.lower():
        report.fail("settlement", f"the Settlement at {chain.treasury} trusts executor {trusted}, but the configured key "
                                  f"is {chain.executor}; use that executor's key, or have the owner call setExecutor")
        await chain.close()
        return None
    report.ok("settlement", f"{chain.treasury} has code, and its executor is this key ({chain.executor})")
    return chain


def _whole(units: int, token: Token) -> str:
    return str(Amount(units, token))


async def _executor_gas(report: Report, settings: Settings, chain: Web3Chain) -> None:
    native = chain.tokens.native
    held = await chain.balance(chain.executor, native)
    if held == 0:
        report.fail("executor gas", f"{chain.executor} holds no {native.symbol}: it pays every transaction's gas; "
                                    "send it some")
        return
    report.ok("executor gas", f"{chain.executor} holds {_whole(held, native)}")


async def _treasury(report: Report, chain: Web3Chain) -> None:
    """Each token's balance and, where the owner capped the executor, what it may still spend this period."""
    held, capped = [], []
    for token in chain.tokens:
        if not (token.native or token.address):
            continue
        try:
            units = await chain.balance(chain.treasury, token)
            allowance = await chain.executor_allowance(token)
        except Exception as e:  # noqa: BLE001 - a TOKENS entry that is not an ERC-20 on this chain
            report.warn("treasury", f"cannot read {token.symbol} ({_reason(e)}); check TOKENS")
            continue
        held.append((token, units))
        if allowance is not None:
            capped.append(f"{token.symbol} {_whole(allowance.remaining, token)} of {_whole(allowance.amount, token)} left")
            if allowance.remaining == 0:
                report.warn("allowance", f"the executor may spend no more {token.symbol} until "
                                         f"{allowance.refills_at:%Y-%m-%d %H:%M} UTC (the owner's setExecutorAllowance)")
    shown = ", ".join(_whole(u, t) for t, u in held)
    if held and not any(u for _, u in held):
        report.fail("treasury", f"{chain.treasury} is empty ({shown}); fund it by sending CRO or tokens to it")
        return
    report.ok("treasury", shown + ("; executor allowance: " + ", ".join(capped) if capped else "; no executor allowance set"))


async def _mixer(report: Report, settings: Settings, chain: Web3Chain) -> None:
    """Each pool in MIXER_CONTRACT_ADDRESS has code and is allow-listed by the Settlement; the relayer has gas."""
    if not settings.mixer_contract_address:
        report.skip("mixer", "MIXER_CONTRACT_ADDRESS is not set: /mix and /withdraw are off")
        return
    from eth_account import Account

    from adapters.chain import settlement as st
    from adapters.mixer import parse_pools_setting

    try:
        pools = [address for address, _ in parse_pools_setting(settings.mixer_contract_address)]
        refused = [p for p in pools if not int.from_bytes(await chain.node.call(
            {"to": chain.treasury, "data": st.mixer_pools_calldata(p)}), "big")]
    except Exception as e:  # noqa: BLE001
        report.fail("mixer", f"cannot read MIXER_CONTRACT_ADDRESS's pools ({_reason(e)})")
        return
    if refused:
        report.fail("mixer", f"pool(s) {', '.join(refused)} are not allow-listed by the Settlement: the owner runs "
                             "`snowrail mixer allow POOL` (setMixerPool)")
    else:
        report.ok("mixer", f"{len(pools)} pool(s) allow-listed")
    if settings.mixer_relayer_key is None:
        report.fail("relayer", "MIXER_RELAYER_KEY (or MIXER_RELAYER_KEY_FILE) is not set: withdrawals need a relayer")
        return
    try:
        relayer = Account.from_key(settings.mixer_relayer_key.get_secret_value()).address
    except Exception:  # noqa: BLE001 - the library's message could echo the key
        report.fail("relayer", "MIXER_RELAYER_KEY is not a valid private key")
        return
    native = chain.tokens.native
    gas = await chain.balance(relayer, native)
    if gas == 0:
        report.fail("relayer", f"{relayer} holds no {native.symbol}: it pays withdrawals' gas; send it some")
    else:
        report.ok("relayer", f"{relayer} holds {_whole(gas, native)}")


async def telegram_check(report: Report, settings: Settings) -> None:
    """getMe with the token, at TELEGRAM_API_BASE_URL (a self-hosted Bot API server, or the tests' fake)."""
    if settings.telegram_bot_token is None:
        report.skip("telegram", "TELEGRAM_BOT_TOKEN is not set")
        return
    import aiohttp

    url = f"{settings.telegram_api_base_url}{settings.telegram_bot_token.get_secret_value()}/getMe"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            async with session.get(url) as resp:
                body = await resp.json(content_type=None) if resp.status < 500 else {}
                status = resp.status
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as e:
        report.fail("telegram", f"the Bot API at {_host(settings.telegram_api_base_url)} is not answering "
                                f"({type(e).__name__}); check TELEGRAM_API_BASE_URL and the network")
        return
    if status in (401, 404):
        report.fail("telegram", "TELEGRAM_BOT_TOKEN was rejected by the Bot API; copy the token @BotFather gave")
        return
    if status != 200 or not body.get("ok"):
        report.fail("telegram", f"the Bot API answered HTTP {status}; try again, or check TELEGRAM_API_BASE_URL")
        return
    report.ok("telegram", f"the token is valid: @{body['result'].get('username')}")


async def discord_check(report: Report, settings: Settings) -> None:
    """The token (GET /users/@me) and the application's Message Content intent (GET /oauth2/applications/@me)."""
    if settings.discord_bot_token is None:
        report.skip("discord", "DISCORD_BOT_TOKEN is not set")
        return
    import aiohttp

    base = settings.discord_api_base_url.rstrip("/")
    headers = {"Authorization": f"Bot {settings.discord_bot_token.get_secret_value()}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT), headers=headers) as session:
            async with session.get(f"{base}/users/@me") as resp:
                me, status = (await resp.json(content_type=None) if resp.status == 200 else {}), resp.status
            app: dict = {}
            if status == 200:
                async with session.get(f"{base}/oauth2/applications/@me") as resp:
                    app = await resp.json(content_type=None) if resp.status == 200 else {}
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as e:
        report.fail("discord", f"the Discord API at {_host(base)} is not answering ({type(e).__name__}); check "
                               "DISCORD_API_BASE_URL and the network")
        return
    if status == 401:
        report.fail("discord", "DISCORD_BOT_TOKEN was rejected by the Discord API; reset it under Bot > Token")
        return
    if status != 200:
        report.fail("discord", f"the Discord API answered HTTP {status}; try again")
        return
    report.ok("discord", f"the token is valid: {me.get('username')} ({me.get('id')})")
    if not int(app.get("flags") or 0) & MESSAGE_CONTENT:
        report.warn("discord intents", "the Message Content intent is off: pasted keys and notes in server channels "
                                       "are not spotted; enable it under Bot > Privileged Gateway Intents")
    else:
        report.ok("discord intents", "Message Content intent enabled")


def _host(url: str) -> str:
    from adapters.chain.rpc import redact

    return redact(url)
