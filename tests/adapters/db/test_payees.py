"""Saved payees and payout templates on real SQLite and PostgreSQL (migration 0019), and /pay <name> over them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from core.commands import Actor
from core.engine import Engine
from core.payees import PayoutTemplate, SavedPayee, TemplateRow
from core.services import Policy
from tests.fakes import FakeChain, FakeClock

T0 = datetime(2026, 11, 29, 9, 0, 0, 123456, tzinfo=timezone.utc)
A1 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
A2 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
HUGE = 2**256 - 1  # a uint256 amount survives both backends exactly


def payee(name: str, address: str | None = A1, handle: str | None = None, memo: str | None = None) -> SavedPayee:
    return SavedPayee(name, address, handle, "telegram", memo, "telegram:1", T0)


async def test_payees_are_added_once_per_name_listed_by_prefix_and_removed(uow) -> None:
    async with uow() as u:
        assert await u.payees.add(payee("bob", memo="design, 50%"))
        assert await u.payees.add(payee("bobby", A2))
        assert await u.payees.add(payee("bo_b", None, "robert"))
        assert not await u.payees.add(payee("bob", A2))  # taken: nothing stored, the transaction goes on
        assert await u.payees.add(payee("carol", A2))
        await u.commit()
    async with uow() as u:
        assert await u.payees.get("BOB") == payee("bob", memo="design, 50%")
        assert [p.name for p in await u.payees.starting_with("bo")] == ["bo_b", "bob", "bobby"]
        assert [p.name for p in await u.payees.starting_with("bo_")] == ["bo_b"]  # "_" is literal, not a wildcard
        assert [p.name for p in await u.payees.starting_with("bob", limit=1)] == ["bob"]
        assert (await u.payees.get("bo_b")).target == "@robert"
        assert await u.payees.remove("bobby") and not await u.payees.remove("bobby")
        await u.commit()
    async with uow() as u:
        assert [p.name for p in await u.payees.all()] == ["bo_b", "bob", "carol"]


async def test_two_processes_saving_one_name_store_one(uow) -> None:
    async def save(address: str) -> bool:
        async with uow() as u:
            added = await u.payees.add(payee("dave", address))
            await u.commit()
            return added

    results = await asyncio.gather(save(A1), save(A2))
    assert sorted(results) == [False, True]
    async with uow() as u:
        assert len([p for p in await u.payees.all() if p.name == "dave"]) == 1


async def test_templates_keep_their_rows_exactly_and_in_order(uow) -> None:
    rows = [TemplateRow(A1, "CRO", HUGE, "rent, march"), TemplateRow(A2, "USDC", 1, None)]
    rows += [TemplateRow(A2, "USDC", i + 2, f"row {i}") for i in range(2_000)]
    template = PayoutTemplate("tpl-1", "payroll", "bulk-1", len(rows), {"CRO": HUGE, "USDC": 10**30}, "telegram:2", T0)
    async with uow() as u:
        assert await u.templates.add(template, rows)
        assert not await u.templates.add(PayoutTemplate("tpl-2", "payroll", "bulk-2", 0, {}, "telegram:2", T0), [])
        await u.commit()
    async with uow() as u:
        assert await u.templates.get("PAYROLL") == template and await u.templates.by_id("tpl-1") == template
        assert await u.templates.rows("tpl-1") == rows
        assert await u.templates.get("other") is None and await u.templates.by_id("tpl-2") is None
        assert [t.id for t in await u.templates.paying(A1.lower())] == ["tpl-1"]
        assert await u.templates.paying("0x" + "12" * 20) == []
        assert [t.name for t in await u.templates.all()] == ["payroll"]


async def test_pay_by_name_through_the_engine_on_this_database(uow) -> None:
    operator = Actor("telegram", "2", "Olga", "olga")
    engine = Engine(chain=FakeChain(), uow=uow, clock=FakeClock(), policy=Policy(operators=frozenset({operator.ref})))
    assert (await engine.handle_text(f"/payee add bob {A1}", actor=operator, key="k1")).kind == "ok"
    assert (await engine.handle_text(f"/payee add bobby {A2}", actor=operator, key="k2")).kind == "ok"
    refused = await engine.handle_text("/pay bo 1", actor=operator, key="k3")
    assert "did you mean bob, bobby?" in refused.plain()
    paid = await engine.handle_text("/pay bob 1", actor=operator, key="k4")
    assert paid.kind != "error", paid.plain()
    async with uow() as u:
        (intent,) = await u.intents.for_actor(operator.ref, 5)
        assert intent.recipient == A1
        assert [(e.command, e.outcome) for e in await u.audit.since(None) if e.command == "payee"] == [("payee", "ok")] * 2
