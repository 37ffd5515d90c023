"""A member's escrowed intent and price alert on the embedded default: a whole console session through `snowrail`.

The member plays with /as; their funding link is as far as the console goes, because the in-process chain has no
wallet of theirs to sign the funding from (the funding itself is proven on anvil: tests/integration/
test_escrow_anvil.py). The admin moves the dev feed with /price, and the console's own due-time loop (bot/modes.py)
sees the crossing and delivers the member's price alert without another command."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

from tests.e2e.test_console import RECIPIENT, SNOWRAIL

LINK = re.compile(r"^ethereum:0x[0-9a-fA-F]{40}@\d+/fundIntent\?address=0x[0-9a-fA-F]{40}&uint256=1000000000000000000"
                  r"&\S*value=1000000000000000000$")


def read_until(console: subprocess.Popen, seen: list[str], pattern: str) -> re.Match[str]:
    """The first line matching `pattern`; every line read is kept in `seen` for the failure message."""
    assert console.stdout is not None
    for line in console.stdout:
        seen.append(line)
        if m := re.search(pattern, line):
            return m
    raise AssertionError(f"never printed {pattern!r}:\n" + "".join(seen)[-4000:])


def test_a_members_intent_shows_its_link_and_the_price_loop_runs_in_the_console(tmp_path: Path):
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_"))}
    env["HOME"] = str(tmp_path / "home")
    console = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    # A watchdog, not a pause: if an awaited line never comes, the console is killed and the read below ends.
    watchdog = threading.Timer(120, console.kill)
    watchdog.start()
    assert console.stdin is not None
    seen: list[str] = []

    def say(*lines: str) -> None:
        assert console.stdin is not None
        console.stdin.write("".join(f"{x}\n" for x in lines))
        console.stdin.flush()

    try:
        # /start first: see the TODO in tests/e2e/test_schedules_console.py about the first command at start-up.
        say("/start", "/as telegram:5 @mel", f"/pay {RECIPIENT} 1 CRO when CRO above 0.15 USD")
        iid = read_until(console, seen, r"^Intent (int-[a-z0-9]+): you fund it")[1]
        assert read_until(console, seen, r"^Pays 1 CRO, paid when CRO/USD is above 0\.15 USD\.")
        assert read_until(console, seen, r"^funded 0 of 1 CRO")
        assert read_until(console, seen, r"^ethereum:\S+")[0].strip() and LINK.match(seen[-1].strip()), seen[-1]
        qr = Path(read_until(console, seen, rf"file saved: (\S+{iid}-fund\.png)")[1])
        assert qr.read_bytes().startswith(b"\x89PNG")

        say(f"/status {iid}", "/alert CRO above 0.15")
        assert read_until(console, seen, r"Last CRO/USD price: 0\.1 USD")
        aid = read_until(console, seen, r"Alert (alert-[a-z0-9]+): I will message you privately")[1]

        say("/as me", "/price CRO 0.2")  # an admin moves the dev feed; nothing else is typed until the alert arrives
        # The due-time loop may deliver the alert before the console prints the /price reply: either order holds.
        read_until(console, seen, r"^Moved the dev feed: CRO/USD: 0\.2 USD|\(to telegram:5\).*CRO/USD.* rose above 0\.15 USD: 0\.2 USD now")
        later = r"\(to telegram:5\).*CRO/USD.* rose above 0\.15 USD: 0\.2 USD now" if seen[-1].startswith("Moved") \
            else r"^Moved the dev feed: CRO/USD: 0\.2 USD"
        assert read_until(console, seen, later)
        at = next(i for i, x in enumerate(seen) if re.search(r"\(to telegram:5\).*rose above 0\.15 USD: 0\.2 USD now", x))
        if at + 1 == len(seen):
            read_until(console, seen, r".")
        after = seen[at + 1]
        assert aid in after  # the alert's own id, on the DM's next line

        say("/as telegram:5 @mel", f"/status {iid}")
        out, err = console.communicate(timeout=60)
    finally:
        watchdog.cancel()
        if console.poll() is None:
            console.kill()
            console.wait(10)
    assert console.returncode == 0, err[-2000:]
    status = out.split(f"> /status {iid}\n")[1]
    assert f"Intent {iid}" in status and "awaiting funds" in status and "funded 0 of 1 CRO" in status, status
    assert "Last CRO/USD price: 0.2 USD" in status, status  # the moved feed, as the intent's status reads it
    assert "Traceback" not in out + err
