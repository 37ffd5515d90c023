"""Amounts as integer base units of a token; Decimal appears only to parse and to format."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from core.errors import UsageError

UINT256_MAX = 2**256 - 1

_PLAIN = re.compile(r"^(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?$")
_EXPONENT = re.compile(r"^[+-]?[0-9.]+[eE][+-]?[0-9]+$")
_SEPARATED = re.compile(r"^[0-9]{1,3}([,_' ][0-9]{3})+(\.[0-9]*)?$|^[0-9]{1,3}(\.[0-9]{3}){2,}(,[0-9]*)?$|^[0-9]{1,3}(\.[0-9]{3})+,[0-9]*$")


@dataclass(frozen=True)
class Token:
    """A currency on one chain: the native coin, or an ERC-20 at `address` (None until deployed)."""

    symbol: str
    decimals: int
    address: str | None = None
    native: bool = False


@dataclass(frozen=True)
class Amount:
    units: int
    token: Token

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or isinstance(self.units, bool):
            raise TypeError("Amount.units must be an int of base units")

    def __str__(self) -> str:
        return f"{format_units(self.units, self.token.decimals)} {self.token.symbol}"


# Decimals are the same on every chain we serve; addresses come from each chain's registry.
STANDARD_DECIMALS: dict[str, int] = {"CRO": 18, "WCRO": 18, "USDC": 6, "USDT": 6}


class TokenRegistry:
    """The tokens known on one chain, looked up by case-insensitive symbol."""

    def __init__(self, tokens: list[Token] | tuple[Token, ...]) -> None:
        self._by_symbol = {t.symbol.upper(): t for t in tokens}
        self._by_address = {t.address.lower(): t for t in tokens if t.address}

    @classmethod
    def standard(cls) -> TokenRegistry:
        """Symbols and decimals only: enough to parse, not to pay."""
        return cls([Token(s, d, native=(s == "CRO")) for s, d in STANDARD_DECIMALS.items()])

    def __iter__(self) -> Iterator[Token]:
        return iter(self._by_symbol.values())

    def symbols(self) -> list[str]:
        return list(self._by_symbol)

    @property
    def native(self) -> Token:
        return next(t for t in self._by_symbol.values() if t.native)

    def get(self, symbol: str) -> Token:
        token = self._by_symbol.get(symbol.strip().upper())
        if token is None:
            shown = symbol if len(symbol) <= 16 else symbol[:16] + "…"
            raise UsageError(
                f"token: unknown token “{shown}”; known tokens on this chain: {', '.join(self.symbols())}",
                field="token",
            )
        return token

    def by_address(self, address: str | None) -> Token | None:
        if address is None or int(address, 16) == 0:
            return self.native
        return self._by_address.get(address.lower())


def parse_units(text: str, token: Token) -> int:
    """Decimal text in whole units (``0.5``) -> integer base units, or UsageError naming the problem."""
    raw = text.strip()
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    if not raw:
        raise UsageError("amount: missing; write it in whole units, like 25 or 0.5", field="amount")
    if raw.startswith("-"):
        raise UsageError(f"amount: must be positive, got {shown}", field="amount")
    if _EXPONENT.match(raw):
        raise UsageError(
            f"amount: exponent notation ({shown}) is not accepted; write the number out in full", field="amount"
        )
    if _SEPARATED.match(raw):
        raise UsageError(
            f"amount: {shown} has thousands separators; write digits only, with a dot for decimals (e.g. 1000.5)",
            field="amount",
        )
    if "," in raw:
        raise UsageError(f"amount: {shown} uses a comma; write decimals with a dot, like 1.5", field="amount")
    m = _PLAIN.match(raw.lstrip("+") if raw.startswith("+") and raw[1:2].isdigit() else raw)
    if not m or (not m.group("int") and not m.group("frac")):
        raise UsageError(
            f"amount: {shown} is not a number; write it in whole units, like 25 or 0.5", field="amount"
        )
    whole, frac = m.group("int") or "0", (m.group("frac") or "")
    frac = frac.rstrip("0")
    if len(frac) > token.decimals:
        raise UsageError(
            f"amount: {token.symbol} has {token.decimals} decimals, but {shown} has {len(frac)}",
            field="decimals",
        )
    if len(whole) > 100:
        raise UsageError(f"amount: {shown} is too large; the most a payment can hold is 2^256-1 base units", field="amount")
    units: int = int(whole) * 10**token.decimals + (int(frac) * 10 ** (token.decimals - len(frac)) if frac else 0)
    if units == 0:
        raise UsageError("amount: must be greater than zero", field="amount")
    if units > UINT256_MAX:
        raise UsageError(f"amount: {shown} is too large; the most a payment can hold is 2^256-1 base units", field="amount")
    return units


def parse_amount(text: str, token: Token) -> Amount:
    return Amount(parse_units(text, token), token)


def format_units(units: int, decimals: int) -> str:
    """Exact decimal text for base units: 1500000 with 6 decimals -> '1.5'."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def format_significant(units: int, decimals: int, digits: int = 6) -> str:
    """Base units as text for chat, with at most `digits` significant digits after the point:
    a fee of 123456789012345 wei reads '0.000123457', not '0.000123456789012345'. The whole part is never
    rounded. Reports and the database keep exact values (format_units)."""
    exact = format_units(units, decimals)
    whole, _, frac = exact.partition(".")
    if not frac:
        return exact
    significant_whole = whole.lstrip("-").lstrip("0")
    keep = max(digits - len(significant_whole), 0) if significant_whole else len(frac) - len(frac.lstrip("0")) + digits
    if len(frac) <= keep:
        return exact
    with localcontext() as ctx:
        ctx.prec = 200  # beyond any uint256 in any number of decimals: quantize must not round on its own
        rounded = format(Decimal(exact).quantize(Decimal(1).scaleb(-keep), rounding=ROUND_HALF_EVEN), "f")
    return rounded.rstrip("0").rstrip(".") if "." in rounded else rounded


def decimal_units(value: Decimal, token: Token) -> int:
    """An exact Decimal (from JSON, say) -> base units; the same checks as text."""
    with localcontext() as ctx:
        ctx.prec = 200
        return parse_units(format(value, "f"), token)
