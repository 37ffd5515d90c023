"""Whole console sessions through the installed `snowrail` command, as a newcomer would run them."""

from __future__ import annotations

import json
import os
import re
import urllib.request
import subprocess
import sys
from pathlib import Path

import pytest

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TX = re.compile(r"0x[0-9a-f]{64}")


def rpc(url: str, method: str, params: list):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["result"]


def run_console(tmp_path: Path, script: str, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_"))}
    env.update({"HOME": str(home)}, **(env_extra or {}))
    return subprocess.run(
        [SNOWRAIL, "console", *args], input=script, capture_output=True, text=True, cwd=work, env=env, timeout=120
    )


def test_cold_start_pay_history_and_errors(tmp_path):
    lines = [
        "/help",
        f"/pay {RECIPIENT} 1.5 CRO",
        "/history",
        "/wallet",
        "/pay 0x5aAeb6053f3e94c9b9a09f33669435e7ef1beaed 1",
        "/pay 0x1234 1",
        f"/pay {RECIPIENT} 1 DOGE",
        f"/pay {RECIPIENT} 1e18",
        f"/pay {RECIPIENT} -1",
        f"/pay {RECIPIENT} 0.0000001 USDC",
        f"/pay {RECIPIENT} 99999999999999999999999999999999999999999999999999999999999999999999999999999999",
        f"/pay {RECIPIENT} 1000000000",
        f"/pay <b>x</b> 1",
        "/pay '; DROP TABLE intents; -- 1",
        "/frobnicate",
        "hello there",
        "/mix 0.1",
    ]
    result = run_console(tmp_path, "\n".join(lines) + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in out + result.stderr
    answers = out.split("\n> ")[1:]
    assert len(answers) == len(lines), out
    by_cmd = dict(zip(lines, answers))
    paid = by_cmd[lines[1]]
    tx = TX.search(paid)
    assert tx and "confirmed" in paid, paid
    assert "0x5aAe" in by_cmd["/history"] and tx.group(0) in by_cmd["/history"]
    assert "Treasury" in by_cmd["/wallet"]
    assert "checksum" in answers[4] and "address" in answers[4]
    assert "address:" in answers[5]
    assert "token:" in answers[6] and "CRO" in answers[6]
    assert "amount:" in answers[7] and "exponent" in answers[7]
    assert "amount:" in answers[8]
    assert "decimals" in answers[9]
    assert "too large" in answers[10]
    assert "balance:" in answers[11] and "treasury holds" in answers[11]
    assert "address:" in answers[12] and "too many words" in answers[13] and "Usage: /pay" in answers[13]
    assert "/help" in answers[14] and "/help" in answers[15]
    assert "Your note for 0.1 CRO" in answers[16]  # the zero-setup console has its own pool (issue 15)
    assert "🔔" in out and "confirmed: 1.5 CRO" in out
    assert len(TX.findall(by_cmd["/history"])) == 1  # the refused payments left nothing behind


def test_chat_texts_name_the_chain_count_in_singular_and_round_fees(tmp_path):
    lines = ["/start", "/help", f"/pay {RECIPIENT} 1", "/history", "/pay @alice 1"]
    result = run_console(tmp_path, "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    answers = dict(zip(lines, result.stdout.split("\n> ")[1:]))
    assert re.search(r"settled on local dev chain \(id \d+\)\.", answers["/start"]), answers["/start"]
    assert "/pay" in answers["/help"] and "/deposit" in answers["/help"] and "/release" in answers["/help"]
    fee = re.search(r"Network fee: ([0-9.]+) CRO", answers[lines[2]])
    assert fee and len(fee.group(1).replace(".", "").lstrip("0")) <= 6, answers[lines[2]]
    assert "Your last 1 payment:" in answers["/history"]
    # The console is its own platform: a @handle never reaches a Telegram or Discord account from here.
    assert "address: @alice has no linked wallet on Console" in answers["/pay @alice 1"]


def test_each_run_of_the_embedded_chain_starts_clean(tmp_path):
    run_console(tmp_path, f"/pay {RECIPIENT} 1\n")
    second = run_console(tmp_path, "/history\n")
    assert "No payments yet" in second.stdout, second.stdout


@pytest.mark.anvil
def test_console_against_anvil_pays_on_chain(tmp_path, anvil_stack):
    before = int(rpc(anvil_stack.url, "eth_getBalance", [RECIPIENT, "latest"]), 16)
    env = anvil_stack.env()
    result = run_console(tmp_path, f"/pay {RECIPIENT} 0.25\n/history\n", "--rpc", anvil_stack.url, env_extra=env)
    assert result.returncode == 0, result.stderr
    assert TX.search(result.stdout), result.stdout
    assert int(rpc(anvil_stack.url, "eth_getBalance", [RECIPIENT, "latest"]), 16) - before == 25 * 10**16
    again = run_console(tmp_path, "/history\n", "--rpc", anvil_stack.url, env_extra=env)
    assert TX.search(again.stdout), "history persists with a chain that persists"


@pytest.mark.anvil
def test_a_restarted_anvil_is_a_new_chain_with_no_old_history(tmp_path):
    from adapters.chain.devnet import free_port, start_anvil

    port = free_port()
    first = start_anvil(port=port)
    try:
        paid = run_console(tmp_path, f"/pay {RECIPIENT} 0.1\n", "--rpc", first.url)
        assert TX.search(paid.stdout), paid.stdout + paid.stderr
    finally:
        first.stop()
    second = start_anvil(port=port)
    try:
        fresh = run_console(tmp_path, "/history\n", "--rpc", second.url)
        assert "No payments yet" in fresh.stdout, fresh.stdout + fresh.stderr
    finally:
        second.stop()


def test_rate_limits_in_the_console_and_a_malformed_setting_stops_the_start(tmp_path):
    limited = run_console(tmp_path, "/help\n/wallet\n/history\n", env_extra={"RATE_LIMIT_DEFAULT": "2/1m"})
    assert limited.returncode == 0, limited.stderr
    assert re.search(r"Too many commands: 2 per minute\. Try again in \d+ s\.", limited.stdout), limited.stdout
    bad = run_console(tmp_path, "/help\n", env_extra={"RATE_LIMIT_PAY": "10 per minute"})
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "RATE_LIMIT_PAY: “10 per minute” should look like N/<number><s|m|h>" in bad.stderr + bad.stdout
