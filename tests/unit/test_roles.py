"""Roles (/role, /roles), who may spend, and the audit log (/audit), against fakes at the ports."""

from __future__ import annotations

import pytest

from core.commands import Actor
from core.engine import Engine
from core.model import NotificationType
from core.replies import loads
from core.roles import Role, role_of
from core.services import Policy
from tests import fakes
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier, RecordingQueue

ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS
OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
APRIL = Actor("telegram", "3", "April", "april")  # APPROVERS
BOB = Actor("telegram", "7", "Bob", "bob")  # nobody yet
DC_BOB = Actor("discord", "77", "Bob on Discord", "bob")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def world():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref}), approvers=frozenset({APRIL.ref}))
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), policy=policy)
    return engine, chain, db


class Say(fakes.Say):
    actor, prefix = ADA, "r"


def alerts(db: FakeDatabase) -> list[tuple[str, str]]:
    return [(n.user_ref, loads(n.body).plain()) for n in db.store.outbox if n.type is NotificationType.SECURITY_ALERT]


async def test_settings_seed_the_four_roles(world):
    engine, _, _ = world
    s = engine.services
    assert [await role_of(s, a) for a in (ADA, OLGA, APRIL, BOB)] == [Role.ADMIN, Role.OPERATOR, Role.APPROVER, Role.MEMBER]
    assert await role_of(s, Actor("discord", "5", operator=True)) is Role.OPERATOR  # the Discord operator role


async def test_admin_gives_a_role_by_handle_stored_audited_and_announced_to_every_admin(world):
    engine, _, db = world
    say = Say(engine)
    await say("/start", BOB)  # Bob has written, so @bob resolves on Telegram
    await say("/role telegram:8 admin")  # a second admin, named by id before they ever wrote
    reply = await say("/role @bob operator", key="tg-role-1")
    assert reply.kind == "ok", reply.plain()
    assert reply.plain() == "@bob (telegram:7) is now an operator (was a member). The admins have been told."
    assert db.store.roles[BOB.ref].role is Role.OPERATOR and db.store.roles[BOB.ref].changed_by == ADA.ref
    assert await role_of(engine.services, BOB) is Role.OPERATOR
    announced = [(ref, text) for ref, text in alerts(db) if "@bob" in text]
    assert sorted(ref for ref, _ in announced) == [ADA.ref, "telegram:8"]  # one per admin
    assert all("telegram:1 made @bob (telegram:7) an operator (was a member)" in text for _, text in announced)
    assert {n.dedup_key for n in db.store.outbox if "@bob" in loads(n.body).plain()} == {
        "role:tg-role-1:telegram:1", "role:tg-role-1:telegram:8"}
    entry = db.store.audit[-1]
    assert (entry.command, entry.outcome, entry.role, entry.actor_ref) == ("role", "ok", "admin", ADA.ref)
    assert "operator" in entry.detail
    # the same message delivered again changes nothing and announces nothing more
    again = await say("/role @bob operator", key="tg-role-1")
    assert again.plain() == reply.plain() and len(alerts(db)) == 4  # 2 for telegram:8, 2 for @bob
    notifier = FakeNotifier()
    assert await engine.deliver_notifications(notifier) == len(db.store.outbox)


async def test_a_chat_operator_may_spend_and_a_demoted_one_may_not(world):
    engine, chain, db = world
    say = Say(engine)
    assert "Only operators" in (await say(f"/pay {ADDR} 1", BOB)).plain()
    await say("/role telegram:7 operator")
    assert (await say(f"/pay {ADDR} 1", BOB)).kind == "ok"
    await say("/role telegram:2 member")  # Olga, an operator by OPERATORS: the table overrides it
    refused = await say(f"/pay {ADDR} 1", OLGA)
    assert refused.kind == "error" and "Only operators" in refused.plain()
    assert len(chain.signed) == 1
    assert db.store.audit[-1].role == "member" and db.store.audit[-1].outcome == "refused"


async def test_approvers_alone_may_not_spend(world):
    engine, chain, _ = world
    reply = await Say(engine)(f"/pay {ADDR} 1", APRIL)
    assert reply.kind == "error" and "Only operators" in reply.plain() and not chain.signed


async def test_non_admin_is_refused_with_their_role_and_nothing_changes(world):
    engine, _, db = world
    say = Say(engine)
    for actor, role in ((OLGA, "an operator"), (APRIL, "an approver"), (BOB, "a member")):
        reply = await say("/role telegram:9 operator", actor)
        assert reply.kind == "error"
        assert reply.plain() == f"Only an admin can change roles; you are {role}. Ask one of your team's admins."
    assert not db.store.roles and not alerts(db)
    assert [e.outcome for e in db.store.audit[-3:]] == ["refused"] * 3


async def test_unknown_role_is_refused_naming_the_allowed_ones(world):
    engine, _, db = world
    reply = await Say(engine)("/role telegram:9 boss")
    assert reply.kind == "error"
    assert "role: boss is not one of member, operator, approver, admin." in reply.plain()
    assert "Usage: /role" in reply.plain() and not db.store.roles


@pytest.mark.parametrize("text, problem", [
    ("/role", "say who and which role."),
    ("/role @bob", "the role is missing."),
    ("/role bob operator", "user: bob is neither a @handle nor a person like telegram:123."),
    ("/role @bob operator now", "too many words after /role"),
])
async def test_malformed_role_commands_say_what_is_wrong(world, text, problem):
    engine, _, db = world
    reply = await Say(engine)(text)
    assert reply.kind == "error" and problem in reply.plain() and not db.store.roles


async def test_a_handle_resolves_only_on_the_callers_platform(world):
    engine, _, db = world
    say = Say(engine)
    await say("/start", DC_BOB)  # @bob exists on Discord only
    reply = await say("/role @bob operator")  # typed on Telegram
    assert reply.kind == "error"
    assert "nobody on Telegram has written to me as @bob" in reply.plain() and not db.store.roles


async def test_nobody_changes_their_own_role(world):
    engine, _, db = world
    say = Say(engine)
    await say("/role telegram:8 admin")
    reply = await say("/role telegram:8 member", Actor("telegram", "8"))
    assert reply.plain() == "You cannot change your own role; another admin can."
    assert db.store.roles["telegram:8"].role is Role.ADMIN


async def test_an_admins_setting_admin_cannot_be_demoted_from_chat(world):
    engine, _, db = world
    say = Say(engine)
    await say("/role telegram:8 admin")
    reply = await say("/role telegram:1 member", Actor("telegram", "8"))
    assert reply.kind == "error" and "is an admin by the ADMINS setting, which chat cannot change" in reply.plain()
    assert ADA.ref not in db.store.roles and await role_of(engine.services, ADA) is Role.ADMIN


async def test_a_demoted_chat_admin_hears_of_it(world):
    engine, _, db = world
    say = Say(engine)
    await say("/role telegram:8 admin")
    await say("/role telegram:8 approver")
    demoted = [text for ref, text in alerts(db) if ref == "telegram:8"]
    assert any("an approver (was an admin)" in text for text in demoted)


async def test_setting_the_role_someone_holds_changes_nothing(world):
    engine, _, db = world
    reply = await Say(engine)("/role telegram:2 operator")
    assert reply.plain() == "telegram:2 is already an operator; nothing changed." and not db.store.roles


async def test_linking_one_wallet_on_two_platforms_does_not_merge_roles(world):
    engine, chain, _ = world
    say = Say(engine)
    await say("/role telegram:7 operator")
    for actor in (BOB, DC_BOB):  # the same person links the same wallet from Telegram and from Discord
        await say(f"/link {ADDR}", actor)
        assert "Linked" in (await say("/link 0x" + "11" * 45 + ADDR[2:].lower(), actor)).plain()
    assert await role_of(engine.services, BOB) is Role.OPERATOR
    assert await role_of(engine.services, DC_BOB) is Role.MEMBER
    assert "Only operators" in (await say(f"/pay {ADDR} 1", DC_BOB)).plain()
    assert (await say(f"/pay {ADDR} 1", BOB)).kind == "ok" and len(chain.signed) == 1


async def test_roles_lists_holders_privately_for_the_team_only(world):
    engine, _, _ = world
    say = Say(engine)
    await say("/start", BOB)
    await say("/role @bob approver")
    listing = await say("/roles", OLGA)
    text = listing.plain()
    assert listing.private
    assert "admin: telegram:1 (@ada) — ADMINS setting" in text
    assert "operator: telegram:2 (@olga) — OPERATORS setting" in text
    assert "approver: telegram:3 — APPROVERS setting" in text  # April has not written yet: no handle known
    assert "approver: telegram:7 (@bob) — set by telegram:1 on 2026-11-26" in text
    refused = await say("/roles", Actor("telegram", "9"))
    assert refused.kind == "error" and "you are a member" in refused.plain()


async def test_audit_shows_role_amount_and_outcome_to_admins_only(world):
    engine, _, db = world
    say = Say(engine)
    await say(f"/pay {ADDR} 2.5 USDC", OLGA)
    await say(f"/pay {ADDR} 1", BOB)
    pay = next(e for e in db.store.audit if e.command == "pay" and e.outcome == "ok")
    assert (pay.role, pay.amount, pay.token, pay.decimals) == ("operator", 2_500_000, "USDC", 6)
    reply = await say("/audit 2")
    text = reply.plain()
    assert reply.private and "The last 2 decisions, newest first" in text
    assert "telegram:7 (member) /pay refused 1 CRO" in text
    assert "telegram:2 (operator) /pay ok 2.5 USDC" in text
    for actor in (OLGA, APRIL, BOB):
        refused = await say("/audit", actor)
        assert refused.kind == "error" and "Only an admin can read the audit log" in refused.plain()


@pytest.mark.parametrize("n", ["0", "101", "x", "1 2"])
async def test_audit_takes_1_to_100(world, n):
    engine, _, _ = world
    reply = await Say(engine)(f"/audit {n}")
    assert reply.kind == "error" and "is not a whole number from 1 to 100" in reply.plain()
