"""SqlApprovalRepository on both backends: requests round-trip, and one approver counts once (UNIQUE)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core.model import ApprovalRequest, ApprovalStatus, Intent, Vote

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _intent(uow, pid: str) -> None:
    async with uow() as u:
        await u.intents.add(Intent(pid, f"k-{pid}", "telegram:2", "0x" + "ab" * 20, "CRO", 10**18,
                                   "0x" + "11" * 32, T0, T0, needs_confirmation=True))
        await u.approvals.add(ApprovalRequest(pid, "telegram:2", 2, T0, T0 + timedelta(hours=24)))
        await u.commit()


async def test_requests_and_votes_round_trip(uow) -> None:
    await _intent(uow, "pay-a")
    async with uow() as u:
        req = await u.approvals.get("pay-a")
        assert req is not None and req.status is ApprovalStatus.WAITING and req.expires_at == T0 + timedelta(hours=24)
        assert await u.approvals.vote(Vote("pay-a", "telegram:3", True, T0))
        assert not await u.approvals.vote(Vote("pay-a", "telegram:3", False, T0, "changed my mind"))  # counted once
        assert await u.approvals.vote(Vote("pay-a", "telegram:4", False, T0, "wrong address"))
        req.status, req.decided_by, req.reason = ApprovalStatus.REJECTED, "telegram:4", "wrong address"
        await u.approvals.save(req)
        await u.commit()
    async with uow() as u:
        votes = await u.approvals.votes("pay-a")
        assert [(v.approver_ref, v.approve, v.reason) for v in votes] == [
            ("telegram:3", True, None), ("telegram:4", False, "wrong address")]
        assert votes[0].at == T0
        assert [r.intent_id for r in await u.approvals.with_status(ApprovalStatus.REJECTED)] == ["pay-a"]
        assert await u.approvals.with_status(ApprovalStatus.WAITING) == []


async def test_the_database_refuses_a_second_vote_of_one_approver(uow) -> None:
    await _intent(uow, "pay-b")
    async with uow() as u:
        assert await u.approvals.vote(Vote("pay-b", "telegram:3", True, T0))
        await u.commit()
    async with uow() as u:  # a plain INSERT, as a buggy second process would send it: the UNIQUE constraint fires
        try:
            await u.session.execute(text(
                "INSERT INTO approvals (intent_id, approver_ref, approve, at) VALUES ('pay-b', 'telegram:3', true, :at)"),
                {"at": T0})
            await u.commit()
            raised = False
        except Exception:
            raised = True
    assert raised
    async with uow() as u:
        assert len(await u.approvals.votes("pay-b")) == 1
