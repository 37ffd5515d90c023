"""What left the treasury, as one list: payments, bulk rows and mixer deposits (read by /ledger and /history)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class OutflowKind(str, enum.Enum):
    PAYMENT = "payment"  # /pay (an intent)
    BULK = "bulk"  # one row of a bulk batch
    MIXER = "mixer"  # a deposit into a privacy pool from the treasury (an intent with a mixer commitment)


class OutflowStatus(str, enum.Enum):
    SENDING = "sending"  # signed, not settled yet
    PAID = "paid"
    FAILED = "failed"  # nothing was paid (the gas may have been)


@dataclass(frozen=True)
class Outflow:
    """One treasury outflow. `id` is the payment's id, or `<batch id>:<line>` for a bulk row (the file's line).
    `at`: when the payment was asked for; for a bulk row, when its batch was executed."""

    at: datetime
    kind: OutflowKind
    id: str
    token: str
    amount: int  # base units of `token`
    recipient: str
    requester: str  # the actor ref who asked (the batch's uploader for a bulk row)
    status: OutflowStatus
    tx_hash: str | None = None
    memo: str | None = None
    batch_id: str | None = None
    line: int = 0  # a bulk row's line in its file (orders the rows of one batch); 0 for a payment

    @property
    def order(self) -> tuple[datetime, str, int, str]:
        """Sorts outflows oldest first; every listing shows them in reverse."""
        return (self.at, self.batch_id or "", self.line, self.id)


class LedgerRepository(Protocol):
    """Reads across payments and bulk batches. Only what was sent or tried counts as an outflow: payments that
    were signed (submitted, confirmed, failed after signing) and rows of batches that were executed; a payment
    still waiting for /confirm or approvals, a cancelled one, and a batch never executed are not outflows."""

    async def outflows(self, limit: int | None, token: str | None = None) -> list[Outflow]:
        """Newest first (ties: id), at most `limit` (None: all), only of `token` when given."""

    async def received(self, wallet: str, limit: int) -> list[Outflow]:
        """Bulk rows paid or being paid to `wallet` (any case), newest first, at most `limit`."""
