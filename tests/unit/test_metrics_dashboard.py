"""The Prometheus metrics and the Grafana dashboard agree: every series a panel queries is one SnowRail exports."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from adapters.metrics.prometheus import PrometheusMetrics
from core.metrics import Metrics
from core.money import Amount, Token

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-snowrail.json"


def exported() -> set[str]:
    m: Metrics = PrometheusMetrics()
    cro = Token("CRO", 18, native=True)
    m.command("pay", "ok")
    m.payment("confirmed", timedelta(seconds=2))
    m.bulk_rows("paid", 200)
    m.delivered(timedelta(milliseconds=80))
    m.rpc("eth_chainId", 0.001, "ok")
    m.nonce_gap(0)
    m.balance("treasury", Amount(5 * 10**18, cro))
    assert isinstance(m, PrometheusMetrics)
    text = m.exposition().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_panel_queries_an_exported_series():
    names = exported()
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queried = {n for p in panels for t in p["targets"] for n in re.findall(r"snowrail_\w+", t["expr"])}
    assert queried and queried <= names, queried - names
    assert all(n.startswith("snowrail_") for n in names)


def test_balances_are_whole_units():
    m = PrometheusMetrics()
    m.balance("executor", Amount(1_500_000, Token("USDC", 6, "0x" + "1" * 40)))
    assert 'snowrail_balance{account="executor",token="USDC"} 1.5' in m.exposition().decode()
