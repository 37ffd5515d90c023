"""The slash commands: one per engine command, with typed options, each turned into the text it stands for."""

# No `from __future__ import annotations` here: discord.py reads these callbacks' annotations as real types.

import re
from collections.abc import Callable, Coroutine
from typing import Any, Optional

import discord
from discord import app_commands

from adapters.discord.frontend import DiscordFrontend
from adapters.discord.identity import mentioned
from core.usage import SUMMARY, USAGE

# Commands whose answers are only for the asker whatever they turn out to be: a slow one defers privately.
PRIVATE = frozenset({"link", "mix", "withdraw", "deposit", "wallet", "roles", "audit", "pending", "ledger", "schedules", "payees", "dashboard"})
ROLES = ("member", "operator", "approver", "admin")
BULK_ACTIONS = ("preview", "execute", "status", "cancel", "retry")


def text(name: str, *words: Optional[str]) -> str:
    """The chat text a slash command stands for; blank options are left out. An option stays one word, its
    inner spaces shown as ␣, so the core's error names that option (`amount: 1␣000 …`), not the next one."""
    kept = (str(w).strip() for w in words if w is not None)  # str(): a client may send a number for a text option
    return " ".join([f"/{name}", *(re.sub(r"\s+", "\u2423", w) for w in kept if w)])


def build(frontend: DiscordFrontend, token_symbols: list[str]) -> list[app_commands.Command]:
    """Every command, bound to `frontend`. Token choices come from the chain's registry (at most 25)."""
    token_choices = [app_commands.Choice(name=s, value=s) for s in token_symbols[:25]]
    help_choices = [app_commands.Choice(name=n, value=n) for n in list(USAGE)[:25]]

    async def own_ids(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await frontend.complete_ids(interaction, current)

    async def own_batches(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await frontend.complete_batches(interaction, current)

    async def run(interaction: discord.Interaction, name: str, *words: Optional[str]) -> None:
        await frontend.command(interaction, text(name, *words), private=name in PRIVATE)

    @app_commands.describe(
        recipient="an address (0x…), a @handle, or a mention of someone who linked a wallet",
        amount="in whole units, e.g. 0.5 or 25",
        token="which token (default: the chain's native coin)",
        when="optional: at 2026-12-01 09:00, in 3 days, every month on the 1st, when CRO above 0.12 USD",
    )
    @app_commands.choices(token=token_choices)
    async def pay(interaction: discord.Interaction, recipient: str, amount: str, token: Optional[str] = None,
                  when: Optional[str] = None) -> None:
        # The condition is several words by nature ("every month on the 1st"): it goes in as typed, after the rest.
        condition = " ".join((when or "").split())
        await frontend.command(interaction, text("pay", mentioned(recipient), amount, token) + (f" {condition}" if condition else ""),
                               private="pay" in PRIVATE)

    @app_commands.describe(id="a payment id, e.g. pay-abcdefgh")
    async def status(interaction: discord.Interaction, id: str) -> None:
        await run(interaction, "status", id)

    @app_commands.describe(id="the payment to confirm")
    async def confirm(interaction: discord.Interaction, id: str) -> None:
        await run(interaction, "confirm", id)

    @app_commands.describe(id="the payment to cancel")
    async def cancel(interaction: discord.Interaction, id: str) -> None:
        await run(interaction, "cancel", id)

    @app_commands.describe(id="your intent, e.g. int-abcdefgh", amount="optional: how much to fund (default: the rest)")
    async def deposit(interaction: discord.Interaction, id: str, amount: Optional[str] = None) -> None:
        await run(interaction, "deposit", id, amount)

    @app_commands.describe(id="your funded intent to pay now")
    async def release(interaction: discord.Interaction, id: str) -> None:
        await run(interaction, "release", id)

    @app_commands.describe(n="how many of your latest payments (1 to 50)")
    async def history(interaction: discord.Interaction, n: Optional[app_commands.Range[int, 1, 50]] = None) -> None:
        await run(interaction, "history", str(n) if n is not None else None)

    async def wallet(interaction: discord.Interaction) -> None:
        await run(interaction, "wallet")

    @app_commands.describe(
        address="the wallet to link: you get a message to sign",
        signature="the signature of that message (0x + 130 hex digits)",
    )
    async def link(interaction: discord.Interaction, address: Optional[str] = None, signature: Optional[str] = None) -> None:
        await run(interaction, "link", address, signature)

    @app_commands.describe(
        file="payouts: CSV (also Safe Airdrop), JSON, .xlsx or a .txt list: recipient, amount[, token[, memo]]",
        action="what to do with an uploaded batch",
        batch="the batch id, e.g. batch-abcdefgh",
    )
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in BULK_ACTIONS])
    async def bulk(
        interaction: discord.Interaction,
        file: Optional[discord.Attachment] = None,
        action: Optional[str] = None,
        batch: Optional[str] = None,
    ) -> None:
        if file is not None:
            await frontend.bulk_file(interaction, file)
        else:
            await run(interaction, "bulk", action, batch)

    @app_commands.describe(amount="how much to deposit into the privacy pool, e.g. 0.1")
    async def mix(interaction: discord.Interaction, amount: str) -> None:
        await run(interaction, "mix", amount)

    @app_commands.describe(note="your mixer note", address="where to withdraw to (default: your linked wallet)")
    async def withdraw(interaction: discord.Interaction, note: str, address: Optional[str] = None) -> None:
        await run(interaction, "withdraw", note, address)

    async def start(interaction: discord.Interaction) -> None:
        await run(interaction, "start")

    @app_commands.describe(command="a command to explain")
    @app_commands.choices(command=help_choices)
    async def help(interaction: discord.Interaction, command: Optional[str] = None) -> None:
        await run(interaction, "help", command)

    @app_commands.describe(user="the person (a member of this server)", role="their role from now on")
    @app_commands.choices(role=[app_commands.Choice(name=r, value=r) for r in ROLES])
    async def role(interaction: discord.Interaction, user: discord.User, role: str) -> None:
        await run(interaction, "role", f"discord:{user.id}", role)

    async def roles(interaction: discord.Interaction) -> None:
        await run(interaction, "roles")

    @app_commands.describe(n="how many of the latest decisions (1 to 100)")
    async def audit(interaction: discord.Interaction, n: Optional[app_commands.Range[int, 1, 100]] = None) -> None:
        await run(interaction, "audit", str(n) if n is not None else None)

    @app_commands.describe(id="the payment waiting for approval, e.g. pay-abcdefgh")
    async def approve(interaction: discord.Interaction, id: str) -> None:
        await run(interaction, "approve", id)

    @app_commands.describe(id="the payment waiting for approval", reason="why (the requester is told)")
    async def reject(interaction: discord.Interaction, id: str, reason: Optional[str] = None) -> None:
        said = " ".join((reason or "").split())  # the reason keeps its spaces: it is one free-text tail
        await frontend.command(interaction, " ".join(filter(None, [text("reject", id), said])), private=False)

    async def pending(interaction: discord.Interaction) -> None:
        await run(interaction, "pending")

    @app_commands.describe(n="how many of the latest outflows (1 to 50)", token="only this token",
                           export="send every outflow as a CSV file instead")
    @app_commands.choices(token=token_choices)
    async def ledger(interaction: discord.Interaction, n: Optional[app_commands.Range[int, 1, 50]] = None,
                     token: Optional[str] = None, export: bool = False) -> None:
        await run(interaction, "ledger", "export" if export else (str(n) if n is not None else None), token)

    @app_commands.describe(pair="e.g. CRO or CRO/USD", side="fire when the price goes above or below", price="e.g. 0.12",
                           cancel="instead: the id of one of your alerts to cancel")
    @app_commands.choices(side=[app_commands.Choice(name=x, value=x) for x in ("above", "below")])
    async def alert(interaction: discord.Interaction, pair: Optional[str] = None, side: Optional[str] = None,
                    price: Optional[str] = None, cancel: Optional[str] = None) -> None:
        await run(interaction, "alert", *(("cancel", cancel) if cancel else (pair, side, price)))

    async def alerts(interaction: discord.Interaction) -> None:
        await run(interaction, "alerts")

    @app_commands.describe(pair="e.g. CRO or CRO/USD (all feeds if left out)",
                           to="admins, dev chains only: move the dev feed to this price")
    async def price(interaction: discord.Interaction, pair: Optional[str] = None, to: Optional[str] = None) -> None:
        await run(interaction, "price", pair, to)

    async def schedules(interaction: discord.Interaction) -> None:
        await run(interaction, "schedules")

    @app_commands.describe(action="skip passes over the next run only",
                           id="a schedule id, or the name of the template or payee it pays: sch-abcdefgh, payroll")
    @app_commands.choices(action=[app_commands.Choice(name=x, value=x) for x in ("pause", "resume", "cancel", "skip")])
    async def schedule(interaction: discord.Interaction, action: str, id: str) -> None:
        await run(interaction, "schedule", action, id)

    @app_commands.describe(action="add or remove a team payee", name="one short word, e.g. bob",
                           recipient="add: an address (0x…) or a @handle", memo="add: optional note")
    @app_commands.choices(action=[app_commands.Choice(name=x, value=x) for x in ("add", "remove")])
    async def payee(interaction: discord.Interaction, action: str, name: str, recipient: Optional[str] = None,
                    memo: Optional[str] = None) -> None:
        said = " ".join((memo or "").split())  # the memo keeps its spaces: it is one free-text tail
        await frontend.command(interaction, " ".join(filter(None, [text("payee", action, name, recipient), said])),
                               private=False)

    async def payees(interaction: discord.Interaction) -> None:
        await run(interaction, "payees")

    async def dashboard(interaction: discord.Interaction) -> None:
        await run(interaction, "dashboard")

    callbacks: dict[str, Callable[..., Coroutine[Any, Any, None]]] = {
        "pay": pay, "status": status, "confirm": confirm, "cancel": cancel, "history": history, "wallet": wallet,
        "link": link, "bulk": bulk, "mix": mix, "withdraw": withdraw, "start": start, "help": help,
        "role": role, "roles": roles, "audit": audit, "approve": approve, "reject": reject, "pending": pending,
        "ledger": ledger, "deposit": deposit, "release": release, "alert": alert, "alerts": alerts, "price": price,
        "schedules": schedules, "schedule": schedule,
        "payee": payee, "payees": payees, "dashboard": dashboard,
    }  # fmt: skip
    out = []
    for name, callback in callbacks.items():
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=name, description=SUMMARY[name][:100], callback=callback
        )
        if name in ("status", "confirm", "cancel", "deposit", "release"):
            command.autocomplete("id")(own_ids)
        if name == "bulk":
            command.autocomplete("batch")(own_batches)
        out.append(command)
    return out


__all__ = ["build", "text", "PRIVATE"]
