"""A job for tests/integration/test_metrics_files.py: reports one of each kind of series, as the real jobs do."""

from __future__ import annotations

from datetime import timedelta


def record(index: int) -> int:
    """One command, one payment (a histogram observation) and the nonce gap (a most-recent gauge) set to `index`."""
    from bot.health import process_metrics

    metrics = process_metrics()
    metrics.command("probe", "ok")
    metrics.payment("confirmed", timedelta(seconds=index % 7))
    metrics.nonce_gap(index)
    return index
