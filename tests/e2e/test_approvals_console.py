"""A 2-of-3 approval through the installed `snowrail console` on anvil, playing everyone with /as (the README's
transcript): the request waits, each refusal is specific, the second approval pays exactly once on chain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_roles_console import answers
from tests.integration.test_pay_live import balance, fresh_address

pytestmark = pytest.mark.anvil

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))


def test_two_of_three_approval_in_the_console_pays_once_on_anvil(anvil_stack, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_", "OPERATORS",
                                "ADMINS", "APPROVERS", "APPROVAL"))}
    env.update(anvil_stack.env(), HOME=str(home), OPERATORS="telegram:5",
               APPROVERS="telegram:11,telegram:12,telegram:13", APPROVAL_THRESHOLD="CRO=1,USDC=500")
    to = fresh_address()
    console = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=work, env=env)
    assert console.stdin is not None and console.stdout is not None
    try:
        console.stdin.write(f"/as telegram:5 @olga\n/pay {to} 2\n")
        console.stdin.flush()
        head = []
        while not any("awaiting approval" in line for line in head):
            line = console.stdout.readline()
            assert line, "".join(head) + console.stderr.read() if console.stderr else ""
            head.append(line)
        found = re.search(r"Payment (pay-[a-z0-9]+) awaiting approval \(0 of 2\)", "".join(head))
        assert found, "".join(head)
        pid = found.group(1)
        script = [
            "/as telegram:11 @april", f"/approve {pid}", f"/approve {pid}",
            "/as telegram:5 @olga", f"/approve {pid}",
            "/as telegram:7 @bob", f"/approve {pid}",
            "/as telegram:12 @amos", "/pending", f"/approve {pid}",
            "/as telegram:13 @ann", f"/approve {pid}",
        ]
        out, err = console.communicate("\n".join(script) + "\n", timeout=120)
    finally:
        if console.poll() is None:
            console.kill()
    transcript = "".join(head) + out
    assert console.returncode == 0 and "Traceback" not in transcript + err, transcript + err
    said = answers(transcript)
    # Each approver got the request by DM (delivered here, as the console plays them), with its buttons.
    asked = said[f"/pay {to} 2"]
    for ref in ("telegram:11", "telegram:12", "telegram:13", "console:operator"):
        assert f"(to {ref})" in asked or ref == "console:operator", asked
    assert "Approval needed" in asked and "Requested by: @olga (telegram:5)" in asked and "[Approve]" in asked, asked
    assert said[f"/approve {pid}"].startswith(f"Approved: payment {pid} has 1 of 2 approvals")
    assert said[f"/approve {pid} #2"].startswith(f"You already approved {pid}")
    assert said[f"/approve {pid} #3"].startswith("You cannot approve your own payment")
    assert "Only approvers and admins can approve payments; you are a member" in said[f"/approve {pid} #4"]
    assert pid in said["/pending"] and "1 of 2" in said["/pending"]
    assert f"Approved (2 of 2): payment {pid}" in said[f"/approve {pid} #5"]
    assert "confirmed" in said[f"/approve {pid} #5"].lower()
    assert "already approved (2 of 2)" in said[f"/approve {pid} #6"]
    assert balance(anvil_stack.url, to) == 2 * 10**18  # paid exactly once
    (tmp_path / "transcript.txt").write_text(transcript)
