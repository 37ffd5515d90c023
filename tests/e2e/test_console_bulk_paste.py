"""A payout list pasted after /bulk in the console (which reads a line at a time), as a console process."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from pathlib import Path

from tests.e2e.test_console import SNOWRAIL, run_console

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
OTHER = "0x00000000000000000000000000000000000000aa"


def test_a_pasted_list_up_to_an_empty_line_is_one_upload_and_a_stray_word_names_its_line(tmp_path: Path) -> None:
    script = f"/bulk\n{RECIPIENT} 1.5\n{OTHER}=2\n\n/bulk\n{RECIPIENT} 1\nthanks\n\n/bulk\n\n/wallet\n"
    result = run_console(tmp_path, script)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    answers = result.stdout.split("\n> ")[1:]
    assert len(answers) == 4, result.stdout  # three /bulk messages and /wallet: the pasted lines are no commands
    preview, refused, empty, wallet = answers
    assert "(2 pasted lines)" in preview and "pasted.txt" in preview and "3.5 CRO" in preview
    assert "type: /bulk execute bulk-" in preview
    assert "line 2" in refused and "thanks" in refused and "/bulk execute" not in refused
    assert "Usage: /bulk" in empty  # nothing pasted: the usage line, nothing stored
    assert "Treasury" in wallet


def test_a_pasted_list_is_executed_and_paid(tmp_path: Path) -> None:
    """Fed line by line, as someone at the console would: the preview's Execute is typed in, then its status."""
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_"))}
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env=env)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []], daemon=True).start()

    def until(pattern: str) -> re.Match[str]:
        seen = []
        while True:
            line = lines.get(timeout=120)
            seen.append(line)
            if m := re.search(pattern, line):
                return m
            assert "Traceback" not in line, "".join(seen)

    def send(text: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(text + "\n")
        proc.stdin.flush()

    try:
        send(f"/bulk\n{RECIPIENT} 0.25\n{OTHER} 0.75 CRO\n")
        batch = until(r"type: /bulk execute (bulk-[a-z0-9]{8})").group(1)
        send(f"/bulk execute {batch}")
        until(r"Paid: 2 of 2 rows — 1 CRO")  # the finished report, printed as a notification
        send(f"/bulk status {batch}")
        until(r"Paid 2 · failed 0")
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0
