"""core.metrics.Metrics as Prometheus series named snowrail_*, and their text exposition for /metrics."""

from __future__ import annotations

import os
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from adapters.metrics.files import LOCK
from core.money import Amount

# Seconds. Payments: a Cronos block is ~5 s, anvil's are instant; RPC: a local node answers in ~1 ms.
PAYMENT_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def multiprocess_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR: set (before prometheus_client is imported) where processes fork per job, as
    RQ's worker does: each child writes its series there and /metrics adds them up."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class PrometheusMetrics:
    """Every series on one registry (the process's own by default). Never raises into the caller's work."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.commands = Counter("snowrail_commands", "Chat commands handled, by command and outcome",
                                ["command", "outcome"], registry=r)
        self.payments = Counter("snowrail_payments", "Payments that reached a final status, by status",
                                ["status"], registry=r)
        self.payment_seconds = Histogram("snowrail_payment_latency_seconds",
                                         "From signing a payment to its final status", ["status"],
                                         buckets=PAYMENT_BUCKETS, registry=r)
        self.rows = Counter("snowrail_bulk_rows", "Bulk payout rows recorded, by status (rate() is rows per second)",
                            ["status"], registry=r)
        self.outbox_lag = Histogram("snowrail_outbox_lag_seconds", "From queueing a notification to sending it",
                                    buckets=LAG_BUCKETS, registry=r)
        self.rpc_seconds = Histogram("snowrail_rpc_latency_seconds", "Chain node calls, by JSON-RPC method",
                                     ["method"], buckets=RPC_BUCKETS, registry=r)
        self.rpc_calls = Counter("snowrail_rpc_requests", "Chain node calls, by method and outcome "
                                 "(ok, rpc_error, unavailable)", ["method", "outcome"], registry=r)
        self.gap = Gauge("snowrail_nonce_gap", "Executor transactions sent but not mined yet",
                         registry=r, multiprocess_mode="mostrecent")
        self.balances = Gauge("snowrail_balance", "Whole units held, by account (treasury, executor, relayer) "
                              "and token", ["account", "token"], registry=r, multiprocess_mode="mostrecent")

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(name, outcome).inc()

    def payment(self, status: str, took: timedelta) -> None:
        self.payments.labels(status).inc()
        self.payment_seconds.labels(status).observe(max(took.total_seconds(), 0.0))

    def bulk_rows(self, status: str, count: int) -> None:
        if count:
            self.rows.labels(status).inc(count)

    def delivered(self, lag: timedelta) -> None:
        self.outbox_lag.observe(max(lag.total_seconds(), 0.0))

    def rpc(self, method: str, seconds: float, outcome: str) -> None:
        self.rpc_seconds.labels(method).observe(seconds)
        self.rpc_calls.labels(method, outcome).inc()

    def nonce_gap(self, gap: int) -> None:
        self.gap.set(gap)

    def balance(self, account: str, held: Amount) -> None:
        # A gauge is a float: fine for a dashboard, never used to decide anything about money.
        self.balances.labels(account, held.token.symbol).set(held.units / 10**held.token.decimals)

    def exposition(self) -> bytes:
        """The /metrics body: this registry, or every process's series in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=directory)
        with LOCK:  # never while finished processes' files are being folded into the archive
            return generate_latest(merged)
