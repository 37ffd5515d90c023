"""Saved payees (/payee add|remove, /payees) and /pay <name>, through the engine on fakes at the ports."""

from __future__ import annotations

import pytest

from core.commands import Actor, Pay, Recipient
from core.engine import Engine
from core.errors import UsageError
from core.parsing import parse
from core.services import Policy
from tests import fakes
from tests.fakes import TREASURY, FakeChain, FakeClock, FakeDatabase, RecordingQueue

OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
OTTO = Actor("telegram", "4", "Otto", "otto")  # OPERATORS
ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS (only in the `admins` world)
APRIL = Actor("telegram", "3", "April", "april")  # APPROVERS
MEL = Actor("telegram", "9", "Mel", "mel")  # a member
BOB = Actor("telegram", "7", "Bob", "bob")
DC_OP = Actor("discord", "5", "Dora", "dora", operator=True)
BOB_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
THIRD = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


def make(admins: frozenset[str] = frozenset()) -> tuple[Engine, FakeChain, FakeDatabase]:
    chain, db = FakeChain(), FakeDatabase()
    policy = Policy(operators=frozenset({OLGA.ref, OTTO.ref}), approvers=frozenset({APRIL.ref}), admins=admins)
    return Engine(chain=chain, uow=db, clock=FakeClock(), queue=RecordingQueue(), policy=policy), chain, db


@pytest.fixture
def world():
    return make()


class Say(fakes.Say):
    actor, prefix = OLGA, "p"


async def link(say: Say, actor: Actor, address: str) -> None:
    await say(f"/link {address}", actor)
    # FakeChain's convention: the last 40 hex digits of the "signature" are the signer.
    assert "Linked" in (await say("/link 0x" + "11" * 45 + address[2:].lower(), actor)).plain()


def test_a_bare_word_after_pay_is_a_payee_name_and_numbers_or_junk_are_not():
    cmd = parse("/pay Bob 10 USDC", actor=OLGA, key="k")
    assert isinstance(cmd, Pay) and cmd.recipient == Recipient(name="bob") and str(cmd.recipient) == "bob"
    for text, field in [("/pay 10 bob", "address"), ("/pay b*b 1", "address"), ("/pay 0xbob 1", "address")]:
        with pytest.raises(UsageError) as e:
            parse(text, actor=OLGA, key="k")
        assert e.value.field == field, text
    assert "nor a payee name" in str(pytest.raises(UsageError, parse, "/pay 10 bob", actor=OLGA, key="k").value)


async def test_an_operator_saves_a_payee_lists_it_and_pays_it_by_name(world):
    engine, chain, db = world
    say = Say(engine)
    saved = await say(f"/payee add Bob {BOB_WALLET} design work")
    assert saved.kind == "ok" and "Saved payee bob → " in saved.plain() and "(design work)" in saved.plain()
    listed = await say("/payees", APRIL)  # approvers see them too
    assert listed.private and "bob → " + BOB_WALLET + " — design work" in listed.plain()

    paid = await say("/pay BOB 10 USDC")
    assert "confirmed" in paid.plain().lower(), paid.plain()
    (intent,) = db.store.intents.values()
    assert intent.recipient == BOB_WALLET and intent.amount == 10 * 10**6 and intent.token == "USDC"


async def test_a_payee_saved_as_a_handle_resolves_to_their_wallet_and_asks_first(world):
    engine, chain, db = world
    say = Say(engine)
    await link(say, BOB, BOB_WALLET)
    assert (await say("/payee add robert @Bob")).kind == "ok"
    asked = await say("/pay robert 2")
    assert "Confirm: pay 2 CRO to @bob (telegram:7)?" in asked.plain() and not chain.signed
    assert [i.recipient for i in db.store.intents.values()] == [BOB_WALLET]


async def test_a_handle_payee_without_a_wallet_is_saved_with_a_warning_and_refused_when_paid(world):
    engine, chain, db = world
    say = Say(engine)
    saved = await say("/payee add carol @carol")
    assert saved.kind == "ok" and "@carol has not linked a wallet on Telegram yet" in saved.plain()
    refused = await say("/pay carol 1")
    assert refused.kind == "error" and "@carol has no linked wallet on Telegram" in refused.plain()
    assert not db.store.intents


async def test_two_payees_named_alike_exact_wins_a_prefix_is_refused_with_the_candidates(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add bob {BOB_WALLET}")
    await say(f"/payee add bobby {OTHER}")
    await say("/pay bob 1")
    assert [i.recipient for i in db.store.intents.values()] == [BOB_WALLET]

    refused = await say("/pay bo 1")
    assert refused.kind == "error"
    assert refused.plain() == "address: no payee is named bo; did you mean bob, bobby? Write the whole name (/payees lists them)"
    one = await say("/pay bobb 1")  # a single candidate is still a question, never a guess
    assert one.kind == "error" and "did you mean bobby?" in one.plain()
    assert len(db.store.intents) == 1 and len(chain.signed) == 1


async def test_an_unknown_name_is_refused_naming_payees_and_handles(world):
    engine, chain, db = world
    refused = await Say(engine)("/pay zed 1")
    assert refused.plain() == "address: no payee or @handle named zed; see /payees, or pay an address"
    assert not db.store.intents


async def test_a_name_that_is_both_a_payee_and_someone_elses_handle_is_ambiguous(world):
    engine, chain, db = world
    say = Say(engine)
    await link(say, BOB, BOB_WALLET)  # @bob on Telegram, wallet BOB_WALLET
    saved = await say(f"/payee add bob {OTHER}")  # a different bob
    assert "Someone else holds the handle @bob" in saved.plain()
    refused = await say("/pay bob 1")
    assert refused.kind == "error" and "bob is ambiguous" in refused.plain()
    assert OTHER in refused.plain() and "telegram:7" in refused.plain()
    assert not db.store.intents
    assert (await say("/pay @bob 1")).kind != "error"  # the @ says which one

    await say("/payee remove bob")
    await say(f"/payee add bob {BOB_WALLET}")  # the same person: no ambiguity
    await say("/pay bob 1")
    assert [i.recipient for i in db.store.intents.values()] == [BOB_WALLET, BOB_WALLET]


async def test_a_bare_handle_without_a_payee_resolves_as_the_handle(world):
    engine, chain, db = world
    say = Say(engine)
    await link(say, BOB, BOB_WALLET)
    asked = await say("/pay bob 1")
    assert "@bob (telegram:7)" in asked.plain()


async def test_a_handle_payee_saved_on_telegram_is_refused_on_discord(world):
    engine, chain, db = world
    say = Say(engine)
    await say("/payee add robert @bob")
    refused = await say("/pay robert 1", DC_OP)
    assert refused.kind == "error" and "is @bob on Telegram" in refused.plain()


async def test_with_admins_only_admins_change_payees_and_members_see_none():
    engine, chain, db = make(admins=frozenset({ADA.ref}))
    say = Say(engine)
    refused = await say(f"/payee add bob {BOB_WALLET}", OLGA)
    assert refused.kind == "error" and "Only admins may change the team's payees" in refused.plain()
    assert not db.store.payees
    assert (await say(f"/payee add bob {BOB_WALLET}", ADA)).kind == "ok"
    assert "Only admins" in (await say("/payee remove bob", OLGA)).plain() and "bob" in db.store.payees
    assert "you are a member" in (await say("/payees", MEL)).plain()
    assert "you are a member" in (await say(f"/payee add x {OTHER}", MEL)).plain()
    assert "bob → " in (await say("/payees", OLGA)).plain()  # operators see them
    assert (await say("/pay bob 1", OLGA)).kind != "error"  # and pay them


async def test_without_admins_operators_change_payees_but_approvers_do_not(world):
    engine, chain, db = world
    say = Say(engine)
    assert "you are an approver" in (await say(f"/payee add bob {BOB_WALLET}", APRIL)).plain()
    assert (await say(f"/payee add bob {BOB_WALLET}", OTTO)).kind == "ok"
    assert (await say("/payee remove bob", OLGA)).kind == "ok"


async def test_removing_a_payee_in_use_by_a_template_says_so_and_the_name_stops_working(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add bob {BOB_WALLET}")
    upload = await engine.bulk_upload(OLGA, "up-1", "p.csv", f"{BOB_WALLET},5,CRO\n{OTHER},1,CRO\n".encode())
    batch = next(b.command.split()[-1] for b in upload.buttons if b.command.startswith("/bulk execute"))
    assert (await say(f"/bulk save {batch} as payroll")).kind == "ok"

    removed = await say("/payee remove bob")
    assert removed.kind == "ok"
    assert f"Still paying {BOB_WALLET}: 1 template (payroll)" in removed.plain()
    assert not db.store.payees
    assert "no payee or @handle named bob" in (await say("/pay bob 1")).plain()
    assert (await say("/bulk templates")).plain().count("payroll") == 1  # the template is untouched


async def test_bad_payee_commands_name_their_field_and_change_nothing(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add bob {BOB_WALLET}")
    cases = [
        ("/payee", "action"),
        ("/payee frob bob", "action"),
        ("/payee add", "name"),
        ("/payee add bob", "address"),
        (f"/payee add 0xbob {BOB_WALLET}", "name"),
        (f"/payee add 123 {BOB_WALLET}", "name"),
        (f"/payee add b.o.b {BOB_WALLET}", "name"),
        (f"/payee add {'a' * 33} {BOB_WALLET}", "name"),
        ("/payee add alice 0x1234", "address"),
        ("/payee add alice alice", "address"),
        (f"/payee add alice {BOB_WALLET} {'m' * 201}", "memo"),
        ("/payee remove", "name"),
        ("/payee remove bob bobby", "name"),
        ("/payee remove nobody", "name"),
        (f"/payee add bob {OTHER}", "name"),  # taken
        (f"/payee add treasury {TREASURY}", "address"),
        ("/payees everything", None),
    ]
    for text, field in cases:
        reply = await say(text)
        assert reply.kind == "error", text
        if field:
            assert reply.plain().startswith(f"{field}:") or f"\n{field}:" in reply.plain() or f"{field}: " in reply.plain(), (text, reply.plain())
    assert list(db.store.payees) == ["bob"] and db.store.payees["bob"].address == BOB_WALLET
    assert "a payee named bob exists already (" + BOB_WALLET in (await say(f"/payee add bob {OTHER}")).plain()


async def test_adds_and_removes_are_audited_and_a_repeated_message_acts_once(world):
    engine, chain, db = world
    say = Say(engine)
    first = await say(f"/payee add bob {BOB_WALLET}", key="tg-1")
    again = await say(f"/payee add bob {BOB_WALLET}", key="tg-1")  # the platform delivered it twice
    assert again.plain() == first.plain() and len(db.store.payees) == 1
    await say("/payee remove bob", key="tg-2")
    audit = [(e.command, e.outcome, e.detail) for e in db.store.audit if e.command == "payee"]
    assert audit[0] == ("payee", "ok", f"payeeadd: Saved payee bob → {BOB_WALLET}.\nPay them with /pay bob <amount> [token].")
    assert audit[1][1] == "repeat"
    assert audit[2][:2] == ("payee", "ok") and audit[2][2].startswith("payeeremove: Removed payee bob")
    assert {e.role for e in db.store.audit if e.command == "payee"} == {"operator"}


async def test_plain_language_with_a_payee_maps_to_a_pay_command_that_now_parses(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add alice {BOB_WALLET}")
    preview = await say("send 25 usdc to alice")
    assert "/pay alice 25 USDC" in preview.plain() and [b.label for b in preview.buttons] == ["Confirm", "Cancel"]
    assert not db.store.intents
    confirmed = await say(preview.buttons[0].command)  # what pressing Confirm sends
    assert confirmed.kind != "error" and [i.recipient for i in db.store.intents.values()] == [BOB_WALLET]

    weekly = await say("pay alice 0.5 cro every friday")
    assert "/pay alice 0.5 CRO every friday" in weekly.plain()


async def test_bulk_rows_may_name_payees_resolved_at_upload(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add bob {BOB_WALLET}")
    ok = await engine.bulk_upload(OLGA, "up-b", "p.csv", f"Bob,5,CRO\n{OTHER},1,CRO\n".encode())
    (batch,) = db.store.batches
    assert [r.recipient for r in db.store.batch_rows[batch]] == [BOB_WALLET, OTHER], ok.plain()
    refused = await engine.bulk_upload(OLGA, "up-c", "q.csv", f"bo,5,CRO\n{OTHER},1,CRO\n".encode())
    assert "line 1" in refused.plain() and "recipient: no payee is named bo; did you mean bob?" in refused.plain()
    assert len(db.store.batches) == 1


def test_plain_language_keeps_payee_names_with_underscores_and_asks_about_names_with_digits():
    from datetime import datetime, timezone

    from core.money import TokenRegistry
    from core.understand.parser import understand

    def read(text: str):
        return understand(text, tokens=TokenRegistry.standard(), now=datetime(2026, 11, 29, tzinfo=timezone.utc), tz="UTC")

    assert read("send 25 usdc to Payroll_EU").command == "/pay payroll_eu 25 USDC"
    assert read("pay alice 0.5 cro every friday").command == "/pay alice 0.5 CRO every friday at 09:00"
    asked = read("send 25 usdc to bob2")  # a word with digits might be an amount: a question, never a guess
    assert asked.action is None and asked.ask is not None and "bob2" in asked.ask


async def test_a_member_cannot_reach_the_teams_payees_through_pay(world):
    engine, chain, db = world
    say = Say(engine)
    await say(f"/payee add bob {BOB_WALLET}")
    refused = await say("/pay bob 1", MEL)
    assert refused.kind == "error" and "write @bob or their address" in refused.plain()
    assert BOB_WALLET not in refused.plain()
