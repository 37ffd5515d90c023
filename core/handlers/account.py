"""Who you are and what you hold: /start, /link, /wallet, /help."""

from __future__ import annotations

import secrets
from datetime import timedelta

from core.addresses import short
from core.commands import Command, Help, Link, Start, Wallet
from core.errors import ChainUnavailable, UserError
from core.model import LinkChallenge
from core.money import format_significant, format_units
from core.usage import SUMMARY, USAGE
from core.payments.allowance import cap_text, refill_text
from core.replies import Reply, Span, bold, code
from core.services import Services, new_id
from core.views import chain_name, counted

# Parsed and answered ("not available yet"), but not offered: /help lists only commands that work.
NOT_YET: frozenset[str] = frozenset()


async def start(s: Services, cmd: Start) -> Reply:
    await s.remember(cmd.actor)
    name = cmd.actor.display_name or "there"
    role = "You are an operator: you can pay from the treasury." if s.policy.is_operator(cmd.actor) else (
        "Link your wallet with /link <address> so people can pay you by @handle."
    )
    return Reply.of(
        (f"Hi {name}, I'm {s.policy.bot_name}: payments from chat, settled on ", bold(chain_name(s.chain.chain_id)), "."),
        role,
        "Send /help to see every command.",
    )


async def help_(s: Services, cmd: Help) -> Reply:
    if cmd.topic in NOT_YET:
        return Reply.of(f"/{cmd.topic} is not available yet; it is coming soon. Send /help for what works today.")
    if cmd.topic:
        return Reply.of((bold(f"/{cmd.topic}"), f" — {SUMMARY[cmd.topic]}"), ("Usage: ", code(USAGE[cmd.topic])))
    lines: list[tuple[str | Span, ...]] = [(bold("Commands"),)]
    lines += [(code(f"/{name}"), f" — {summary}") for name, summary in SUMMARY.items() if name not in NOT_YET]
    lines.append(("Tokens on this chain: ", ", ".join(s.chain.tokens.symbols()), ". Amounts are in whole units, e.g. 0.5 CRO."))
    return Reply.of(*lines)


async def link(s: Services, cmd: Link) -> Reply:
    await s.remember(cmd.actor)
    now = s.clock.now()
    if cmd.address:
        nonce = secrets.token_hex(16)
        expires = now + s.policy.challenge_ttl
        message = (
            f"SnowRail wallet link\nAccount: {cmd.actor.ref}\nAddress: {cmd.address}\n"
            f"Nonce: {nonce}\nExpires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )
        async with s.uow() as uow:
            await uow.challenges.add(LinkChallenge(new_id("link"), cmd.actor.ref, cmd.address, message, now, expires))
            await uow.commit()
        return Reply.of(
            ("To link ", code(cmd.address), ", sign this exact message with that wallet (personal_sign, EIP-191):"),
            (code(message),),
            "Then send /link <signature>. The challenge works once and expires in "
            f"{counted(int(s.policy.challenge_ttl / timedelta(minutes=1)), 'minute')}.",
            private=True,
        )
    assert cmd.signature is not None
    async with s.uow() as uow:
        challenge = await uow.challenges.latest(cmd.actor.ref)
    if challenge is None or challenge.used:
        raise UserError("signature: there is no open challenge; send /link <address> first.", field="signature")
    if challenge.expires_at < now:
        raise UserError("signature: the challenge expired; send /link <address> for a new one.", field="signature")
    signer = s.chain.recover_signer(challenge.message, cmd.signature)
    if signer.lower() != challenge.address.lower():
        raise UserError(
            f"signature: it was made by {short(signer)}, not by {short(challenge.address)}; nothing was linked. "
            "Sign the challenge with the wallet you are linking.",
            field="signature",
        )
    async with s.uow() as uow:
        fresh = await uow.challenges.latest(cmd.actor.ref)
        user = await uow.users.get(cmd.actor.ref)
        if fresh is None or fresh.id != challenge.id or user is None:
            raise UserError("signature: that challenge was already used; send /link <address> again.", field="signature")
        fresh.used = True
        user.wallet = challenge.address
        user.wallet_proof = f"{challenge.message}\n--\n{cmd.signature}"
        await uow.challenges.save(fresh)
        await uow.users.save(user)
        await uow.commit()
    return Reply.of(("Linked ", code(challenge.address), " to your account. People can now pay you by handle."), kind="ok")


async def wallet(s: Services, cmd: Wallet) -> Reply:
    async with s.uow() as uow:
        user = await uow.users.get(cmd.actor.ref)
    operator = s.policy.is_operator(cmd.actor)
    lines: list[tuple[str | Span, ...]] = []
    try:
        if user and user.wallet:
            lines.append(("Your wallet ", code(user.wallet)))
            lines += await _balances(s, user.wallet)
        else:
            lines.append(("No wallet linked yet: send ", code("/link <address>"), "."))
        if operator:
            lines.append(("Treasury ", code(s.chain.treasury)))
            lines += await _balances(s, s.chain.treasury)
            gas = await s.chain.balance(s.chain.executor, s.chain.tokens.native)
            native = s.chain.tokens.native
            lines.append((f"Executor gas: {format_significant(gas, native.decimals)} {native.symbol} at ", code(short(s.chain.executor))))
            lines += await _allowances(s)
    except ChainUnavailable:
        lines.append(("The chain node is not answering; balances are unavailable right now.",))
    # An operator's view shows the treasury and the hot key's gas: in a group it goes to them privately.
    return Reply.of(*lines, private=operator)


async def _allowances(s: Services) -> list[tuple[str | Span, ...]]:
    """What the Settlement still lets the bot's key pay out of each token in this period."""
    out: list[tuple[str | Span, ...]] = [("Executor allowance (on chain, set by the owner):",)]
    for token in s.chain.tokens:
        a = await s.chain.executor_allowance(token)
        if a is None:
            out.append((f"  {token.symbol}: ", bold("no on-chain cap"), " (the bot's key may pay out all of it)"))
            continue
        left = format_units(a.remaining, token.decimals)
        out.append((f"  {token.symbol}: ", bold(f"{left} left"), f" of {cap_text(token, a)}, refills {refill_text(a)}"))
    return out


async def _balances(s: Services, address: str) -> list[tuple[str | Span, ...]]:
    out: list[tuple[str | Span, ...]] = []
    for token in s.chain.tokens:
        units = await s.chain.balance(address, token)
        out.append((f"  {token.symbol}: ", bold(format_units(units, token.decimals))))
    return out


async def not_yet(s: Services, cmd: Command) -> Reply:
    name = type(cmd).__name__.lower()
    return Reply.of(f"/{name} is not available yet; it is coming soon. Send /help for what works today.")
