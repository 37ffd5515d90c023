"""/mix and /withdraw in the engine against a fake Mixer port: privacy of notes, idempotency, clear errors."""

from __future__ import annotations

import logging
import secrets

import pytest

from core.commands import Actor
from core.engine import Engine
from core.errors import UserError
from core.money import Amount
from core.mixing import MixDeposit, MixNote, MixWithdrawal
from core.replies import loads
from core.services import Policy
from tests.fakes import TREASURY, FakeChain, FakeClock, FakeDatabase, RecordingQueue

OP = Actor("telegram", "1", "Operator")
BOB = Actor("telegram", "7", "Bob", "bob")
FRESH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
POOL = "0x" + "9a" * 20


class FakeMixer:
    """One 0.1 CRO pool; notes are random strings shaped like ours; withdrawals spend them once."""

    def __init__(self, chain: FakeChain) -> None:
        self.chain, self.cro = chain, chain.tokens.native
        self.issued: dict[str, str] = {}  # note text -> commitment
        self.spent: set[str] = set()
        self.watched: dict[str, str] = {}
        self.on_chain: list[str] = []  # wallet deposits the chain has seen

    def denominations(self):
        return [Amount(10**17, self.cro)]

    def new_note(self, amount):
        if amount.units != 10**17:
            raise UserError(f"mix: there is no {amount} pool here; pools: 0.1 CRO.", field="amount")
        text = f"snowrail-cro-0.1-31337-0x{secrets.token_hex(62)}"
        commitment = "0x" + secrets.token_hex(32)
        self.issued[text] = commitment
        return MixNote(text, commitment, POOL, amount, f"ethereum:{POOL}@31337/deposit?uint256={commitment}&value=1e17")

    @property
    def deposits(self) -> list[str]:
        """Commitments the treasury deposited: orders of the fake chain that it paid."""
        return [o.mixer_commitment for o, _, _ in self.chain.signed
                if o.mixer_commitment and o.recipient == POOL and o.intent_hash in self.chain.paid]

    async def deposited(self, commitment):
        if commitment not in self.deposits:
            return None
        return MixDeposit("0x" + "ab" * 32, self.deposits.index(commitment), len(self.deposits))

    def watch(self, commitment, user_ref):
        self.watched[commitment] = user_ref

    async def landed(self):
        out = []
        for i, c in enumerate(self.on_chain):
            if c in self.watched:
                out.append((self.watched.pop(c), MixDeposit("0x" + "ef" * 32, i, len(self.on_chain))))
        return out

    async def withdraw(self, note, recipient, user_ref):
        if note not in self.issued:
            raise UserError("note key: this is not a note for this pool.", field="note")
        if note in self.spent:
            raise UserError("This note has already been spent.")
        self.spent.add(note)
        return MixWithdrawal("0x" + "cd" * 32, recipient, Amount(10**17, self.cro), Amount(0, self.cro),
                             len(self.deposits))


@pytest.fixture
def world():
    chain, db = FakeChain(), FakeDatabase()
    mixer = FakeMixer(chain)
    engine = Engine(chain=chain, uow=db, clock=FakeClock(), queue=RecordingQueue(),
                    policy=Policy(operators=frozenset({OP.ref})), mixer=mixer)
    return engine, mixer, db


async def say(engine, text, actor=OP, key=None):
    say.n = getattr(say, "n", 0) + 1
    return await engine.handle_text(text, actor=actor, key=key or f"mx{say.n}")


def note_in(reply) -> str:
    return next(w for w in reply.plain().split() if w.startswith("snowrail-"))


def stored_text(db) -> str:
    """Everything the fake database holds that a person could read."""
    parts = [repr(r) for r in db.store.keys.values()] + [repr(a) for a in db.store.audit]
    parts += [n.body for n in db.store.outbox]
    return "\n".join(parts)


async def test_operator_mix_deposits_from_the_treasury_and_delivers_the_note_privately(world, caplog):
    engine, mixer, db = world
    caplog.set_level(logging.DEBUG)
    treasury = mixer.chain.balances[(TREASURY.lower(), "CRO")]
    reply = await say(engine, "/mix 0.1", key="tg-1-1")
    assert reply.kind == "ok" and reply.private
    note = note_in(reply)
    assert mixer.deposits == [mixer.issued[note]]
    assert mixer.chain.balances[(TREASURY.lower(), "CRO")] == treasury - 10**17
    assert "lost for good" in reply.plain() and "leaf #0" in reply.plain() and "from the treasury" in reply.plain()
    # Auditable as a treasury payment to the pool, recorded under the message's key; the note is nowhere.
    (intent,) = db.store.intents.values()
    assert intent.status.value == "confirmed" and intent.recipient == POOL and intent.amount == 10**17
    assert intent.mixer_commitment == mixer.issued[note] and db.store.keys["tg-1-1"].intent_id == intent.id
    assert note not in stored_text(db) + repr(intent) and note not in caplog.text


async def test_repeated_mix_message_neither_deposits_again_nor_resends_a_note(world):
    engine, mixer, db = world
    first = await say(engine, "/mix 0.1", key="tg-1-5")
    again = await say(engine, "/mix 0.1", key="tg-1-5")
    assert len(mixer.deposits) == 1
    assert "Already handled" in again.plain() and "snowrail-" not in again.plain()
    assert note_in(first) not in stored_text(db)


async def test_user_mix_gets_a_payment_link_and_no_treasury_deposit(world):
    engine, mixer, _ = world
    reply = await say(engine, "/mix 0.1", actor=BOB)
    assert reply.private and not mixer.deposits
    (button,) = reply.buttons
    commitment = mixer.issued[note_in(reply)]
    assert button.url.startswith(f"ethereum:{POOL}@31337/deposit?uint256={commitment}")
    assert "worth nothing" in reply.plain()


async def test_mix_for_an_amount_without_a_pool(world):
    engine, mixer, _ = world
    reply = await say(engine, "/mix 0.5")
    assert reply.kind == "error" and "no 0.5 CRO pool" in reply.plain() and not mixer.issued


async def test_refused_deposit_hands_out_no_note(world):
    engine, mixer, db = world
    mixer.chain.reject = "this note's commitment is already in the pool"
    reply = await say(engine, "/mix 0.1", key="tg-1-2")
    assert reply.kind == "error" and "Nothing was deposited" in reply.plain() and "already in the pool" in reply.plain()
    assert "snowrail-" not in reply.plain() and not mixer.deposits
    assert [i.status.value for i in db.store.intents.values()] == ["failed"]
    assert "Nothing was deposited" in loads(db.store.keys["tg-1-2"].reply).plain()


async def test_treasury_short_or_node_down_deposits_nothing_and_hands_out_no_note(world):
    engine, mixer, db = world
    mixer.chain.balances[(TREASURY.lower(), "CRO")] = 10**16
    short = await say(engine, "/mix 0.1")
    assert short.kind == "error" and "treasury holds 0.01 CRO" in short.plain() and "snowrail-" not in short.plain()
    mixer.chain.down = True
    down = await say(engine, "/mix 0.1")
    assert down.kind == "error" and "nothing was deposited" in down.plain() and "snowrail-" not in down.plain()
    assert not db.store.intents and not mixer.chain.signed


async def test_unconfirmed_deposit_still_hands_out_the_note_and_watches_it(world):
    engine, mixer, db = world
    mixer.chain.mine = False
    reply = await say(engine, "/mix 0.1")
    note = note_in(reply)
    assert note in mixer.issued and "not confirmed yet" in reply.plain()
    assert mixer.watched == {mixer.issued[note]: OP.ref}
    assert [i.status.value for i in db.store.intents.values()] == ["submitted"]  # reconcile settles it


async def test_withdraw_once_then_spent(world, caplog):
    engine, mixer, db = world
    caplog.set_level(logging.DEBUG)
    note = note_in(await say(engine, "/mix 0.1"))
    done = await say(engine, f"/withdraw {note} {FRESH}", actor=BOB)
    assert done.kind == "ok" and done.private and FRESH in done.plain()
    again = await say(engine, f"/withdraw {note} {FRESH}", actor=BOB)
    assert again.kind == "error" and "this note has already been spent" in again.plain().lower()
    assert note not in stored_text(db) and note not in caplog.text
    assert any(a.detail == "withdraw (note withheld)" for a in db.store.audit)


async def test_withdraw_needs_an_address_and_a_valid_note(world):
    engine, _, _ = world
    note = note_in(await say(engine, "/mix 0.1"))
    reply = await say(engine, f"/withdraw {note}")
    assert reply.kind == "error" and "fresh address" in reply.plain()
    bad = await say(engine, f"/withdraw {note[:-4]}beef {FRESH}")
    assert "note key" in bad.plain()


async def test_without_a_pool_the_commands_say_so(world):
    engine, _, _ = world
    engine.services.mixer = None
    assert "not available yet" in (await say(engine, "/mix 0.1")).plain()
    assert "not available yet" in (await say(engine, f"/withdraw snowrail-x {FRESH}")).plain()


async def test_stored_repeat_reply_is_private(world):
    engine, _, db = world
    await say(engine, "/mix 0.1", key="tg-1-9")
    assert loads(db.store.keys["tg-1-9"].reply).private


async def test_wallet_deposit_is_announced_once_privately(world):
    engine, mixer, db = world
    note = note_in(await say(engine, "/mix 0.1", actor=BOB))
    assert await engine.watch_mixer() == 0
    mixer.on_chain += ["0x" + "00" * 32, mixer.issued[note]]
    assert await engine.watch_mixer() == 1
    assert await engine.watch_mixer() == 0
    (n,) = [n for n in db.store.outbox if n.type.value == "deposit_confirmed"]
    reply = loads(n.body)
    assert n.user_ref == BOB.ref and reply.private
    assert "leaf #1" in reply.plain() and "holds 2 deposits" in reply.plain()
    assert note not in n.body


def test_a_withdraw_command_never_shows_its_note():
    from core.commands import Withdraw

    cmd = Withdraw(BOB, "k", "snowrail-cro-0.1-25-0x" + "ab" * 62, FRESH)
    assert "abab" not in repr(cmd) and "abab" not in str(cmd)


async def test_a_treasury_deposit_above_the_confirmation_limit_is_refused(world):
    engine, mixer, db = world
    engine.services.policy.confirm_above["CRO"] = 10**16
    reply = await say(engine, "/mix 0.1")
    assert reply.kind == "error" and "confirmation limit" in reply.plain() and "snowrail-" not in reply.plain()
    assert not db.store.intents and not mixer.chain.signed


async def test_an_unknown_outcome_after_signing_still_hands_out_the_note(world):
    """Once the transaction may be on its way, withholding the note could lock the deposit for good."""
    engine, mixer, db = world

    async def lost(raw):
        raise RuntimeError("connection reset")

    mixer.chain.broadcast = lost
    reply = await say(engine, "/mix 0.1")
    note = note_in(reply)
    assert "may still go through" in reply.plain() and mixer.watched == {mixer.issued[note]: OP.ref}
    assert [i.status.value for i in db.store.intents.values()] == ["submitted"]  # reconcile re-sends the bytes


@pytest.mark.parametrize("prefix", ["tornado", "snowrail"])
async def test_low_withdraw_with_swapped_arguments_never_echoes_the_note(world, prefix):
    """`/withdraw <address> <note>`: the reply says the two are swapped, and neither it nor the audit log holds
    any piece of the note's secret part."""
    engine, mixer, db = world
    secret = secrets.token_hex(62)
    note = f"{prefix}-cro-0.1-31337-0x{secret}"
    reply = await say(engine, f"/withdraw {FRESH} {note}", actor=BOB)
    assert reply.kind == "error" and "swapped" in reply.plain(), reply.plain()
    # A garbled note where the address should be is not quoted either.
    garbled = await say(engine, f"/withdraw {note} {note[:60]}", actor=BOB)
    assert garbled.kind == "error" and "the second argument" in garbled.plain(), garbled.plain()
    key_only = await say(engine, f"/withdraw {note} 0x{secret}", actor=BOB)
    assert "the second argument has 124 hex digits" in key_only.plain(), key_only.plain()
    written = "\n".join([reply.plain(), garbled.plain(), key_only.plain(), stored_text(db)])
    assert [a.command for a in db.store.audit] == ["withdraw"] * 3
    pieces = {secret[i:i + 6] for i in range(len(secret) - 5)}
    assert not [p for p in pieces if p in written.lower()]
    assert not mixer.spent
