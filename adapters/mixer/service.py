"""core.ports.Mixer over real pools: notes, operator deposits, and withdrawals proved and relayed by the bot."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime, timezone

import segno

from core.errors import TransientError, UserError
from core.money import Amount, Token, format_units
from core.mixing import MixDeposit, MixNote, MixWithdrawal
from core.ports import Clock

from .note import Note, NoteError, canonical_amount, parse_note
from .pool import MixerPool, PoolRejected
from .ports import DepositLog, RelayLog
from .prover import Prover, PublicInputs, witness_input
from .relay import MemoryRelayLog, RelayLimits
from .sync import TreeSync

log = logging.getLogger("snowrail.mixer")

SPENT = "This note has already been spent."
# Refusals that say nothing about the note or its user (the relayer's gas, the node, our own tree): they
# never count against the failed-relay limits. Any mined transaction that reverted counts, whatever its reason.
_NOT_THEIR_FAULT = frozenset({"Gas", "Broadcast", "UnknownRoot", "NoteAlreadySpent"})


def payment_qr(uri: str) -> bytes:
    """A PNG QR code of a payment link (public data only: the pool, the commitment and the value)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def parse_pools_setting(text: str) -> list[tuple[str, int]]:
    """MIXER_CONTRACT_ADDRESS: "0xPool[@block],0xPool[@block]" -> [(address, creation block)]. The block
    (where the pool was deployed) saves scanning the chain's whole history for its deposits."""
    out = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        address, _, block = part.partition("@")
        out.append((address.strip(), int(block) if block.strip() else 0))
    return out


class MixerService:
    """The pools of one chain, each of one denomination of the native token, relayed by one account."""

    def __init__(self, pools: list[tuple[MixerPool, int]], token: Token, prover: Prover, *, chain_id: int,
                 fee: int = 0, deposit_log: DepositLog | None = None, relays: RelayLog | None = None,
                 limits: RelayLimits | None = None, clock: Clock | None = None) -> None:
        self.token, self.prover, self.chain_id, self.fee = token, prover, chain_id, fee
        # The pools' own RelayLog (they reserve the relayer's nonces through it) also counts failed relays.
        self.relays: RelayLog = relays or (pools[0][0].relays if pools else MemoryRelayLog())
        self.limits = limits or RelayLimits()
        self._clock = clock
        self._pools: dict[str, MixerPool] = {}
        self._denomination: dict[str, int] = {}
        for pool, denomination in pools:
            if fee > denomination:
                raise ValueError(f"the relayer fee is larger than the {self._text(denomination)} pool")
            key = self._text(denomination)
            if key in self._pools:
                raise ValueError(f"two pools of {key} {token.symbol} ({self._pools[key].address} and {pool.address}): "
                                 "notes name only the amount, so serve one pool per denomination")
            self._pools[key], self._denomination[key] = pool, denomination
        self._syncs = {key: TreeSync(pool, deposit_log=deposit_log) for key, pool in self._pools.items()}
        # commitment -> whom to tell when its wallet deposit lands. Memory only: a restart forgets it.
        self._watched: dict[int, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[int] = set()  # nullifier hashes being withdrawn by this process

    @classmethod
    async def connect(cls, node, pools: str | list[tuple[str, int]], relayer_key: str, *, token: Token,
                      fee: int = 0, prover: Prover | None = None, deposit_log: DepositLog | None = None,
                      relays: RelayLog | None = None, limits: RelayLimits | None = None,
                      clock: Clock | None = None) -> MixerService:
        """Reads each pool's denomination from the chain. `pools` as parse_pools_setting takes or returns;
        `deposit_log` (the database) keeps each pool's Deposit events between runs; `relays` (the database)
        reserves the relayer's nonces and counts failed relays for every process sharing it."""
        entries = parse_pools_setting(pools) if isinstance(pools, str) else pools
        chain_id = await node.chain_id()
        relays = relays or MemoryRelayLog()
        found = []
        for address, block in entries:
            pool = MixerPool(node, address, relayer_key, chain_id=chain_id, deployed_block=block, relays=relays)
            found.append((pool, await pool.denomination()))
        return cls(found, token, prover or Prover(), chain_id=chain_id, fee=fee, deposit_log=deposit_log,
                   relays=relays, limits=limits, clock=clock)

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(timezone.utc)

    def _text(self, units: int) -> str:
        return canonical_amount(format_units(units, self.token.decimals))

    def _lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # locks belong to one event loop (RQ jobs each run a new one)
            self._locks, self._loop = {}, loop
        return self._locks.setdefault(key, asyncio.Lock())

    def _pool(self, amount_text: str, *, part: str | None = None) -> tuple[str, MixerPool]:
        key = canonical_amount(amount_text)
        if key not in self._pools:
            have = ", ".join(f"{k} {self.token.symbol}" for k in self._pools) or "none"
            message = f"there is no {key} {self.token.symbol} pool on this chain; pools: {have}."
            if part:
                raise NoteError(part, f"this note is for a pool I do not serve: {message}")
            raise UserError(f"mix: {message}", field="amount")
        return key, self._pools[key]

    # ------------------------------------------------------------ the port
    def denominations(self) -> list[Amount]:
        return [Amount(self._denomination[k], self.token) for k in self._pools]

    def new_note(self, amount: Amount) -> MixNote:
        if amount.token.symbol != self.token.symbol:
            raise UserError(f"mix: the pools hold {self.token.symbol}, not {amount.token.symbol}.", field="token")
        key, pool = self._pool(format_units(amount.units, amount.token.decimals))
        note = Note.generate(self.token.symbol, key, self.chain_id)
        commitment = note.commitment
        uri = (f"ethereum:{pool.address}@{self.chain_id}/deposit?uint256={commitment}"
               f"&value={self._denomination[key]}")
        return MixNote(note.text, f"0x{commitment:064x}", pool.address, amount, uri, payment_qr(uri))

    async def deposited(self, commitment: str) -> MixDeposit | None:
        value = int(commitment, 16)
        for key, sync in self._syncs.items():
            async with self._lock(key):
                await self._catch_up(key, sync)
                index = sync.tree.index_of(value)
            if index is not None:
                return MixDeposit(sync.events[index].tx_hash, index, len(sync.tree))
        return None

    async def withdraw(self, note: str, recipient: str, user_ref: str) -> MixWithdrawal:
        parsed = parse_note(note)
        if parsed.chain_id != self.chain_id:
            raise NoteError("chainId", f"this note is for chain {parsed.chain_id}, and I serve chain {self.chain_id}: "
                                       "withdraw it with a bot on that chain.")
        if parsed.token != self.token.symbol.lower():
            raise NoteError("token", f"this note is for {parsed.token.upper()}; my pools hold {self.token.symbol}.")
        key, pool = self._pool(parsed.amount, part="amount")
        if await pool.is_spent(parsed.nullifier_hash):
            raise UserError(SPENT)
        if parsed.nullifier_hash in self._in_flight:
            raise UserError("This note is being withdrawn right now; wait for that withdrawal's answer.")
        self._in_flight.add(parsed.nullifier_hash)
        try:
            return await self._bounded(key, pool, parsed, recipient, user_ref)
        finally:
            self._in_flight.discard(parsed.nullifier_hash)

    async def _bounded(self, key: str, pool: MixerPool, parsed: Note, recipient: str,
                       user_ref: str) -> MixWithdrawal:
        """The withdrawal, unless the note or the user has used up its failed relays for now. The attempt is
        recorded (as failed until it settles) before the count, so relays at once in any process see it."""
        note_id, now = f"0x{parsed.nullifier_hash:064x}", self._now()
        attempt = await self.relays.attempt(note_id, user_ref, now)
        outcome: tuple[str | None, str | None] = (None, None)  # (reason, tx hash) of a failure that counts
        try:
            by_note, by_user = await self.relays.failures(note_id, user_ref, now - self.limits.window)
            by_note, by_user = by_note[:-1], by_user[:-1]  # the newest of each is this attempt
            refusal = self.limits.refusal(by_note, by_user, now)
            if refusal:
                log.warning("mixer relay refused for %s: failed-relay limit reached", user_ref)
                raise UserError(refusal)
            try:
                return await self._withdraw(key, pool, parsed, recipient)
            except PoolRejected as e:
                if e.tx_hash is None and e.reason in _NOT_THEIR_FAULT:
                    raise
                outcome = (e.reason, e.tx_hash)
                log.warning("mixer relay failed for %s (%s%s)", user_ref, e.reason,
                            f", gas spent in {e.tx_hash}" if e.tx_hash else "")
                tally = self.limits.tally(len(by_note) + 1, len(by_user) + 1)
                if e.tx_hash:
                    raise UserError(f"The withdrawal failed on chain: {e.message} The note was not spent, so it is "
                                    f"still good. {tally}") from None
                raise UserError(f"The pool would refuse this withdrawal: {e.message[:1].lower()}{e.message[1:]} "
                                f"Nothing was sent (no gas spent) and your note is still good. {tally}") from None
        finally:
            try:
                await self.relays.settle(attempt, *outcome)
            except TransientError:  # the withdrawal's own outcome matters more; the attempt stays counted
                log.warning("mixer relay attempt %s not settled: database unavailable", attempt)

    async def _withdraw(self, key: str, pool: MixerPool, parsed: Note, recipient: str) -> MixWithdrawal:
        for attempt in (1, 2):
            public, inputs = await self._prepare(key, parsed, recipient, resync=attempt == 2)
            proof = await self.prover.prove(inputs)
            try:
                sent = await pool.withdraw(proof, public)
                break
            except PoolRejected as e:
                if e.reason == "NoteAlreadySpent":
                    raise UserError(SPENT) from None
                if e.reason == "UnknownRoot" and attempt == 1:
                    continue  # our tree is behind or forked from the chain's: resync, prove again
                if e.reason == "Revert" and await pool.is_spent(parsed.nullifier_hash):
                    raise UserError(SPENT) from None  # another submission of the same note won the race
                if e.reason == "Gas":
                    log.warning("mixer relayer %s is short of gas", pool.sender)
                    raise UserError("The relayer is short of gas right now, so it cannot submit your withdrawal. "
                                    "Nothing was spent and your note is still good: try again later.") from None
                raise
        denomination = self._denomination[key]
        return MixWithdrawal(sent.tx_hash, public.recipient, Amount(denomination - self.fee, self.token),
                             Amount(self.fee, self.token), len(self._syncs[key].tree))

    def watch(self, commitment: str, user_ref: str) -> None:
        self._watched[int(commitment, 16)] = user_ref

    async def landed(self) -> list[tuple[str, MixDeposit]]:
        if not self._watched:
            return []
        out = []
        for key, sync in self._syncs.items():
            async with self._lock(key):
                new = await self._catch_up(key, sync)
            for event in new:
                user_ref = self._watched.pop(event.commitment, None)
                if user_ref is not None:
                    out.append((user_ref, MixDeposit(event.tx_hash, event.leaf_index, len(sync.tree))))
        return out

    @staticmethod
    async def _catch_up(key: str, sync: TreeSync) -> list:
        """Syncs `sync` (under its lock) and returns the new deposits: all of them after a rebuild."""
        try:
            return await sync.sync()
        except TransientError:
            raise
        except Exception as e:  # TreeOutOfSync: rebuild, and look at every deposit again
            log.warning("mixer tree for the %s pool out of sync (%s); rebuilding", key, type(e).__name__)
            await sync.resync()
            return list(sync.events)

    async def _prepare(self, key: str, note: Note, recipient: str, *, resync: bool) -> tuple[PublicInputs, dict]:
        """The public inputs and the witness for `note`'s leaf under a root the pool knows."""
        sync = self._syncs[key]
        async with self._lock(key):
            try:
                await (sync.resync() if resync else sync.sync())
                if not await sync.check():
                    await sync.resync()
            except TransientError:
                raise
            except Exception as e:  # TreeOutOfSync, or the node's logs disagree with its state
                log.warning("mixer tree for the %s pool out of sync (%s); rebuilding", key, type(e).__name__)
                await sync.resync()
            index = sync.tree.index_of(note.commitment)
            if index is None:
                raise UserError("No deposit with this note is in the pool yet. If you paid the deposit just now, "
                                "wait until it is confirmed and try again.")
            path = sync.tree.path(index)
        pool = self._pools[key]
        public = PublicInputs(path.root, note.nullifier_hash, recipient, pool.sender, self.fee)
        return public, witness_input(note, path, public)

    async def close(self) -> None:
        await self.prover.close()
