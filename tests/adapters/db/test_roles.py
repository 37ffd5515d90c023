"""The role store and the audit log's role and amount fields, on real SQLite and PostgreSQL (migration 0010)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.commands import Actor
from core.engine import Engine
from core.model import AuditEntry
from core.roles import Role, RoleGrant, role_of
from core.services import Policy
from tests.fakes import FakeChain, FakeClock

T0 = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=timezone.utc)
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


async def test_a_grant_is_stored_replaced_and_listed(uow) -> None:
    async with uow() as u:
        assert await u.roles.get("telegram:7") is None
        await u.roles.put(RoleGrant("telegram:7", Role.OPERATOR, "telegram:1", T0))
        await u.roles.put(RoleGrant("discord:77", Role.APPROVER, "telegram:1", T0))
        await u.commit()
    async with uow() as u:
        await u.roles.put(RoleGrant("telegram:7", Role.MEMBER, "telegram:2", T0 + timedelta(minutes=1)))
        await u.commit()
    async with uow() as u:
        assert await u.roles.get("telegram:7") == RoleGrant("telegram:7", Role.MEMBER, "telegram:2", T0 + timedelta(minutes=1))
        assert [(g.user_ref, g.role) for g in await u.roles.all()] == [("discord:77", Role.APPROVER), ("telegram:7", Role.MEMBER)]


async def test_a_grant_left_uncommitted_is_not_kept(uow) -> None:
    async with uow() as u:
        await u.roles.put(RoleGrant("telegram:7", Role.ADMIN, "telegram:1", T0))
    async with uow() as u:
        assert await u.roles.get("telegram:7") is None


async def test_audit_keeps_role_and_exact_amount_and_exports_since_a_date(uow) -> None:
    huge = 10**30 + 1  # beyond BIGINT, as 10**12 CRO in wei would be
    async with uow() as u:
        await u.audit.add(AuditEntry("telegram:1", "pay", "k0", "ok", "old", T0 - timedelta(days=2)))
        await u.audit.add(AuditEntry("telegram:1", "pay", "k1", "ok", "paid", T0, role="operator",
                                     amount=huge, token="CRO", decimals=18))
        await u.audit.add(AuditEntry("telegram:2", "role", "k2", "refused", "no", T0 + timedelta(minutes=1), role="member"))
        await u.commit()
    async with uow() as u:
        (newest, paid) = await u.audit.recent(limit=2)
        since = await u.audit.since(T0)
        everything = await u.audit.since(None)
    assert (paid.role, paid.amount, paid.token, paid.decimals) == ("operator", huge, "CRO", 18)
    assert (newest.role, newest.amount, newest.token) == ("member", None, None)
    assert [e.key for e in since] == ["k1", "k2"] and [e.key for e in everything] == ["k0", "k1", "k2"]
    assert everything[0].role is None  # rows written before the role was looked up


async def test_the_engine_reads_chat_roles_from_the_database(uow) -> None:
    chain = FakeChain()
    engine = Engine(chain=chain, uow=uow, clock=FakeClock(), policy=Policy(admins=frozenset({"telegram:1"})))
    ada, bob = Actor("telegram", "1", "Ada", "ada"), Actor("telegram", "7", "Bob", "bob")
    await engine.handle_text("/start", actor=bob, key="k1")
    reply = await engine.handle_text("/role @bob operator", actor=ada, key="k2")
    assert reply.kind == "ok", reply.plain()
    assert await role_of(engine.services, bob) is Role.OPERATOR
    paid = await engine.handle_text(f"/pay {ADDR} 1.5", actor=bob, key="k3")
    assert paid.kind == "ok", paid.plain()
    async with uow() as u:
        entries = await u.audit.since(None)
        alerts = await u.outbox.pending()
    pay = next(e for e in entries if e.command == "pay")
    assert (pay.role, pay.amount, pay.token) == ("operator", 15 * 10**17, chain.tokens.native.symbol)
    assert [n.user_ref for n in alerts if n.type.value == "security_alert"] == ["telegram:1"]
