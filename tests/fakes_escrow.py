"""Hand-written fakes for escrowed intents: a Settlement that holds funds per intent hash, and movable price feeds."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.errors import ChainRejected, ChainUnavailable, UserError
from core.escrow.ports import EscrowChain, EscrowEvent, EscrowState, EscrowTerms, OnChain
from core.keccak import keccak256
from core.model import Receipt
from core.ports import Clock, SignedTx
from core.prices import PriceFeed, PriceReading
from tests.fakes import FakeChain, FakeClock

SETTLEMENT = "0x" + "5e" * 20


@dataclass
class _Held:
    """What the fake contract records against one intent hash."""

    terms: EscrowTerms
    status: OnChain = OnChain.NONE
    funder: str | None = None
    funded: int = 0


@dataclass
class _Release:
    """A release or refund the executor signed: it settles when FakeChain broadcasts its bytes."""

    kind: str  # "released" | "refunded"
    intent_hash: str
    nonce: int
    done: list[str] = field(default_factory=list)


class FakeEscrowChain:
    """The escrow side of the Settlement, in memory. A test funds with fund() (as the member's wallet would),
    moves the chain's clock with the FakeClock given, and re-emits an event with emit_again(). Releases and
    refunds signed here settle when `chain` (a FakeChain) broadcasts them, as executor transactions do."""

    def __init__(self, chain: FakeChain, clock: Clock | None = None) -> None:
        self.chain = chain
        self.clock = clock
        self.block = 1
        self.timestamp = 1_800_000_000  # used when no clock is given
        self.held: dict[str, _Held] = {}  # intent hash -> the contract's record
        self.logged: list[EscrowEvent] = []
        self.paid_to: dict[str, int] = {}  # address (lower) -> base units received from releases and refunds
        self.stale: dict[str, EscrowState] = {}  # intent hash -> what a lagging node answers instead of the truth
        self.reject: str | None = None  # sign_release/sign_refund refuse with this sentence (a failed simulation)
        self.signed: list[tuple[str, str, int, int]] = []  # (kind, intent hash, nonce, bump)
        self.reads = 0  # escrow() calls, so a test can see the watcher read the contract rather than the event

    # -- the port ---------------------------------------------------------------------------------------------
    def intent_hash(self, terms: EscrowTerms) -> str:
        h = "0x" + keccak256(repr((self.chain.chain_id, SETTLEMENT, terms.token.symbol, terms.recipient.lower(),
                                   terms.amount, terms.expiry, terms.salt)).encode()).hex()
        self.held.setdefault(h, _Held(terms))
        return h

    def funding_links(self, terms: EscrowTerms, value: int) -> list[str]:
        h, chain_id = self.intent_hash(terms), self.chain.chain_id
        if terms.token.native:
            return [f"ethereum:{SETTLEMENT}@{chain_id}/fund?bytes32={h}&value={value}"]
        return [f"ethereum:{terms.token.address}@{chain_id}/approve?address={SETTLEMENT}&uint256={value}",
                f"ethereum:{SETTLEMENT}@{chain_id}/fundToken?bytes32={h}&uint256={value}"]

    async def escrow(self, intent_hash: str) -> EscrowState:
        self._check()
        self.reads += 1
        if intent_hash in self.stale:
            return self.stale[intent_hash]
        held = self.held.get(intent_hash)
        if held is None:
            return EscrowState(OnChain.NONE)
        return EscrowState(held.status, held.funder, held.funded)

    async def head(self) -> tuple[int, int]:
        self._check()
        return self.block, self._now()

    async def events(self, from_block: int, to_block: int) -> list[EscrowEvent]:
        self._check()
        return [e for e in self.logged if from_block <= e.block_number <= to_block]

    async def sign_release(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        return self._sign("released", intent_hash, nonce, bump)

    async def sign_refund(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        return self._sign("refunded", intent_hash, nonce, bump)

    # -- what a test does to the chain ------------------------------------------------------------------------
    def fund(self, intent_hash: str, value: int, funder: str) -> EscrowEvent:
        """The member's wallet calls fund/fundToken: the value arrives and one IntentFunded is logged. As the
        contract, top-ups come only from the first funder, and nothing is taken once the intent is closed."""
        held = self.held[intent_hash]  # KeyError: nobody asked for this hash's terms (the contract would revert)
        if held.status in (OnChain.RELEASED, OnChain.REFUNDED):
            raise ChainRejected("this intent is closed")
        if held.funder is not None and held.funder.lower() != funder.lower():
            raise ChainRejected("only the first funder may top up this intent")
        if held.status is OnChain.NONE and self._now() >= held.terms.expiry:
            raise ChainRejected("this intent has expired")
        held.status, held.funder, held.funded = OnChain.OPEN, held.funder or funder, held.funded + value
        return self._log("funded", intent_hash, funder=funder, value=value)

    def refund_expired(self, intent_hash: str, funder: str) -> EscrowEvent:
        """The funder's own refundExpired, with the bot gone: allowed from the expiry on, and only to them."""
        held = self.held[intent_hash]
        if held.status is not OnChain.OPEN:
            raise ChainRejected("nothing is held for this intent")
        if held.funder is None or held.funder.lower() != funder.lower():
            raise ChainRejected("only the funder may take it back")
        if self._now() < held.terms.expiry:
            raise ChainRejected("this intent has not expired yet")
        return self._close("refunded", intent_hash)

    def emit_again(self, event: EscrowEvent, *, block_number: int | None = None) -> None:
        """The same log seen twice (a node re-serving it, or a re-read inside the reorg margin)."""
        self.logged.append(replace(event, block_number=block_number or event.block_number))

    def mine_empty(self, blocks: int = 1) -> None:
        self.block += blocks

    # -- inside -----------------------------------------------------------------------------------------------
    def _now(self) -> int:
        return int(self.clock.now().timestamp()) if self.clock is not None else self.timestamp

    def _check(self) -> None:
        if self.chain.down:
            self.chain.refused += 1
            raise ChainUnavailable()

    def _log(self, kind: str, intent_hash: str, *, funder: str | None = None, value: int = 0) -> EscrowEvent:
        self.block += 1
        event = EscrowEvent(kind, intent_hash, self.block, "0x" + f"e{len(self.logged) + 1:063x}", 0, funder, value)
        self.logged.append(event)
        return event

    def _close(self, kind: str, intent_hash: str) -> EscrowEvent:
        held = self.held[intent_hash]
        funder = (held.funder or "").lower()
        if kind == "released":
            recipient = held.terms.recipient.lower()
            self.paid_to[recipient] = self.paid_to.get(recipient, 0) + held.terms.amount
            surplus = held.funded - held.terms.amount  # over-funding goes back to the funder, never kept
            if surplus:
                self.paid_to[funder] = self.paid_to.get(funder, 0) + surplus
        else:
            self.paid_to[funder] = self.paid_to.get(funder, 0) + held.funded
        held.status = OnChain.RELEASED if kind == "released" else OnChain.REFUNDED
        return self._log(kind, intent_hash, value=held.funded)

    def _sign(self, kind: str, intent_hash: str, nonce: int, bump: int) -> SignedTx:
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        held = self.held.get(intent_hash)
        if held is None or held.status is not OnChain.OPEN:
            raise ChainRejected("this intent is not open on chain")
        if kind == "released" and held.funded < held.terms.amount:
            raise ChainRejected("this intent is not fully funded")
        self.signed.append((kind, intent_hash, nonce, bump))
        tx_hash = "0x" + f"{'a' if kind == 'released' else 'f'}{len(self.signed):063x}"
        self.chain.contracts[tx_hash] = (nonce, lambda: self._settle(kind, intent_hash, tx_hash))
        return SignedTx(raw=tx_hash.encode(), tx_hash=tx_hash, nonce=nonce, max_fee=2 * 10**9 + bump, tip=1 + bump)

    def _settle(self, kind: str, intent_hash: str, tx_hash: str) -> Receipt:
        """Mined: as the contract, each intent closes at most once; a second release or refund reverts."""
        held = self.held[intent_hash]
        block = self.block + 1
        if held.status is not OnChain.OPEN:
            self.block = block
            return Receipt(tx_hash, False, block, 40_000, 10**14, "this intent is already closed")
        self._close(kind, intent_hash)
        return Receipt(tx_hash, True, self.block, 60_000, 10**15, paid=frozenset({intent_hash}))


@dataclass
class _Feed:
    decimals: int
    answer: int
    updated_at: datetime
    round_id: int = 1


class FakePriceFeed:
    """Price feeds a test moves with set_price() (or the port's set_price), and can leave stale with age()."""

    def __init__(self, clock: Clock, feeds: dict[str, tuple[int, int]] | None = None) -> None:
        """feeds: pair -> (decimals, first answer); by default CRO/USD at 0.10 with 8 decimals."""
        self.clock = clock
        self.down = False
        self.reads = 0
        self.feeds = {p: _Feed(d, a, clock.now()) for p, (d, a) in (feeds or {"CRO/USD": (8, 10_000_000)}).items()}

    def pairs(self) -> list[str]:
        return sorted(self.feeds)

    def decimals(self, pair: str) -> int:
        return self._feed(pair).decimals

    async def latest(self, pair: str) -> PriceReading:
        if self.down:
            raise ChainUnavailable()
        self.reads += 1
        f = self._feed(pair)
        return PriceReading(pair.upper(), f.answer, f.decimals, f.updated_at, f.round_id)

    async def set_price(self, pair: str, answer: int) -> str | None:
        self.move(pair, answer)
        return "0x" + f"{self._feed(pair).round_id:064x}"

    def move(self, pair: str, answer: int, *, at: datetime | None = None) -> None:
        """A new round: `answer` scaled by the pair's decimals, updated now (or `at`)."""
        f = self._feed(pair)
        f.answer, f.updated_at, f.round_id = answer, at or self.clock.now(), f.round_id + 1

    def age(self, pair: str, updated_at: datetime) -> None:
        """The feed stops updating: its last round stays stamped `updated_at`."""
        self._feed(pair).updated_at = updated_at

    def _feed(self, pair: str) -> _Feed:
        f = self.feeds.get(pair.upper())
        if f is None:
            raise UserError(f"pair: no price feed for {pair}; the feeds are {', '.join(self.pairs()) or 'none'}",
                            field="pair")
        return f


if TYPE_CHECKING:  # mypy holds each fake to its port
    _escrow: EscrowChain = FakeEscrowChain(FakeChain())
    _prices: PriceFeed = FakePriceFeed(FakeClock())


__all__ = ["FakeEscrowChain", "FakePriceFeed", "SETTLEMENT"]
