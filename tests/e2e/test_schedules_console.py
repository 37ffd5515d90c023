"""Schedules on the embedded default: a whole console session through the installed `snowrail` command."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.e2e.test_console import RECIPIENT, SNOWRAIL

BAD = [
    f"/pay {RECIPIENT} 1 CRO at 2020-01-01 09:00",
    f"/pay {RECIPIENT} 1 CRO at 2031-02-30 09:00",
    f"/pay {RECIPIENT} 1 CRO every 0 days",
    f"/pay {RECIPIENT} 1 CRO every month on the 1st until 2020-06-30",
    "/schedule frobnicate sch-abc",
    "/schedule pause nope",
]


def test_schedule_list_skip_pause_resume_cancel_and_bad_input_in_the_console(tmp_path: Path):
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_"))}
    env["HOME"] = str(tmp_path / "home")
    console = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=tmp_path, env=env)
    assert console.stdin is not None and console.stdout is not None
    # TODO(lead): the escrow watch's first pass holds SQLite's write lock for ~5 s at start-up, so the first command
    # of a console session can be told "the database is not answering"; /start takes that hit here.
    console.stdin.write(f"/start\n/pay {RECIPIENT} 1 CRO every month on the 1st at 09:00\n")
    console.stdin.flush()
    seen = []
    sid = None
    for line in console.stdout:  # the schedule's id is random: read it before sending the commands that name it
        seen.append(line)
        if m := re.match(r"Schedule (sch-[a-z0-9]+): 1 CRO to " + RECIPIENT + r" every month on the 1st at 09:00 UTC; "
                         r"next run \d{4}-\d{2}-01 09:00 UTC", line, re.IGNORECASE):
            sid = m.group(1)
            break
    assert sid, "".join(seen)[-3000:]
    rest = [*BAD, "/schedules", f"/schedule skip {sid}", f"/schedule skip {sid}", f"/schedule pause {sid}",
            f"/schedule resume {sid}", f"/schedule cancel {sid}", f"/schedule resume {sid}", "/schedules"]
    out, err = console.communicate("\n".join(rest) + "\n", timeout=120)
    assert console.returncode == 0, err[-2000:]
    assert "is in the past" in out and "there is no 30 February 2031" in out
    assert "interval must be at least 1" in out and "is before the first payment" in out
    assert "action: frobnicate is not one of pause, resume, cancel, skip" in out
    assert "no schedule nope of yours was found" in out  # a word is read as a name: nothing of hers is named so
    assert out.count("Schedule sch-") == 0  # the refused ones stored nothing
    listed = out.split("> /schedules\n")[1]
    assert sid in listed.split("\n>")[0] and "next: " in listed.split("\n>")[0]
    assert f"Skipping the run of {sid}" in out and "is already skipped" in out
    assert f"Paused {sid}" in out and f"Resumed {sid}" in out and f"Cancelled {sid}" in out
    assert f"{sid} is cancelled; nothing to resume." in out
    assert out.rstrip().endswith("/pay @bob 100 USDC every month on the 1st at 09:00.")  # none left to list
