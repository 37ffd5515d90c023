"""Chat text of /alert, /alerts and /price -> commands (core.parsing registers these), and price pairs as typed."""

from __future__ import annotations

import re

from core.commands import Actor, Alert, Alerts, Command, Price, SetPrice
from core.errors import UsageError
from core.money import TokenRegistry
from core.usage import USAGE

DEFAULT_QUOTE = "USD"  # "/alert CRO above 0.12" means CRO/USD
_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,15}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SIDES = {"above": True, "over": True, ">": True, "below": False, "under": False, "<": False}


def _usage(name: str, problem: str, field: str | None = None) -> UsageError:
    return UsageError(f"{problem}\nUsage: {USAGE[name]}", field=field)


def _shown(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def pair_of(text: str, quote: str | None = None, *, command: str = "alert") -> str:
    """ "CRO" -> "CRO/USD", "cro/usd" -> "CRO/USD"; a separate quote word ("0.12 USD") must agree with the pair's."""
    base, _, own_quote = text.partition("/")
    for part in (base, own_quote or "USD", quote or "USD"):
        if not _SYMBOL.match(part):
            raise _usage(command, f"pair: {_shown(text)} is not a price pair like CRO or CRO/USD.", "pair")
    if own_quote and quote and own_quote.upper() != quote.upper():
        raise _usage(command, f"pair: {text.upper()} is priced in {own_quote.upper()}, not {quote.upper()}.", "pair")
    return f"{base.upper()}/{(own_quote or quote or DEFAULT_QUOTE).upper()}"


def parse_alert(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Command:
    """/alert <PAIR> above|below <price> [QUOTE], or /alert cancel <id>."""
    if not args:
        raise _usage("alert", "say which pair, above or below, and the price.", "pair")
    if args[0].lower() == "cancel":
        if len(args) != 2 or not _ID.match(args[1]):
            raise _usage("alert", "give the id of the alert to cancel (/alerts lists them).", "id")
        return Alert(actor, key, cancel_id=args[1].lower())
    words = args[1:] if args[0].lower() == "when" else args  # "/alert when CRO above 0.12", as /pay's condition reads
    if len(words) < 3:
        missing = "above or below and the price are" if len(words) == 1 else "the price is"
        raise _usage("alert", f"{missing} missing.", "price" if len(words) == 2 else "side")
    if len(words) > 4:
        raise _usage("alert", f"too many words: “{_shown(' '.join(words[4:]), 40)}”.")
    side = _SIDES.get(words[1].lower())
    if side is None:
        raise _usage("alert", f"side: {_shown(words[1])} is neither above nor below.", "side")
    pair = pair_of(words[0], words[3] if len(words) == 4 else None)
    return Alert(actor, key, pair=pair, above=side, price=words[2])


def parse_alerts(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Alerts:
    if args:
        raise _usage("alerts", "/alerts takes no arguments; /alert cancel <id> stops one.")
    return Alerts(actor, key)


def parse_price(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Price | SetPrice:
    """/price, /price <PAIR>, or /price <PAIR> <price> [QUOTE] (moving the dev feed)."""
    if not args:
        return Price(actor, key)
    if len(args) > 3:
        raise _usage("price", f"too many words: “{_shown(' '.join(args[3:]), 40)}”.")
    pair = pair_of(args[0], args[2] if len(args) == 3 else None, command="price")
    if len(args) == 1:
        return Price(actor, key, pair)
    return SetPrice(actor, key, pair, args[1])
