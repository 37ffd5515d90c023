"""The metrics port: what the product counts and times (commands, payments, bulk rows, deliveries, RPC, balances)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from core.money import Amount


class Metrics(Protocol):
    """Where the engine and the adapters report what happened; the bot exports it (Prometheus on HEALTH_PORT).
    Every method is cheap and never raises: a metric must not fail the work it describes."""

    def command(self, name: str, outcome: str) -> None:
        """One chat command handled: its name (pay, bulk, ...) and outcome (ok, invalid, refused, limited, ...)."""

    def payment(self, status: str, took: timedelta) -> None:
        """A payment reached a final status (confirmed or failed), `took` after it was signed."""

    def bulk_rows(self, status: str, count: int) -> None:
        """Bulk payout rows recorded as paid or failed (a rate of these is rows per second)."""

    def delivered(self, lag: timedelta) -> None:
        """A notification left the outbox, `lag` after it was queued."""

    def rpc(self, method: str, seconds: float, outcome: str) -> None:
        """One call to the chain node: ok, rpc_error (the node answered with an error) or unavailable."""

    def nonce_gap(self, gap: int) -> None:
        """The executor's transactions sent but not yet mined (pending nonce minus mined nonce)."""

    def balance(self, account: str, held: Amount) -> None:
        """What `account` (treasury, executor or relayer) holds of one token, read from the chain."""


class NoMetrics:
    """The default: nothing is counted (no HEALTH_PORT, tests, benchmarks)."""

    def command(self, name: str, outcome: str) -> None:
        pass

    def payment(self, status: str, took: timedelta) -> None:
        pass

    def bulk_rows(self, status: str, count: int) -> None:
        pass

    def delivered(self, lag: timedelta) -> None:
        pass

    def rpc(self, method: str, seconds: float, outcome: str) -> None:
        pass

    def nonce_gap(self, gap: int) -> None:
        pass

    def balance(self, account: str, held: Amount) -> None:
        pass
