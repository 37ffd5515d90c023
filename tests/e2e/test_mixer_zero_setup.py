"""The zero-setup console has the mixer: `snowrail console` with no settings, then /mix 0.1, then /withdraw."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from pathlib import Path

from eth_account import Account

from .test_console import SNOWRAIL, run_console

NOTE = re.compile(r"snowrail-cro-0\.1-\d+-0x[0-9a-f]{124}")


class Console:
    """One console process, its replies read line by line: the in-process chain lives only as long as it does,
    so the note /mix gives must be withdrawn in the same session."""

    def __init__(self, tmp_path: Path) -> None:
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_", "MIXER_"))}
        self.proc = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                     env=env | {"HOME": str(home), "PYTHONUNBUFFERED": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.seen: list[str] = []

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, text: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def until(self, pattern: str) -> re.Match[str]:
        """The first reply line matching `pattern` (a generous bound only against a hung process)."""
        while True:
            try:
                line = self.lines.get(timeout=120)
            except queue.Empty:
                raise AssertionError(f"no reply matching {pattern!r}:\n" + "".join(self.seen)) from None
            assert line is not None, "the console exited:\n" + "".join(self.seen)
            self.seen.append(line)
            if m := re.search(pattern, line):
                return m

    def close(self) -> tuple[str, str]:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        assert self.proc.stderr
        return "".join(self.seen), self.proc.stderr.read()


def test_mix_then_withdraw_with_no_settings(tmp_path):
    console = Console(tmp_path)
    try:
        console.until(r"^SnowRail console")
        console.send("/mix 0.1")
        note = console.until(NOTE.pattern).group(0)
        recipient = Account.create().address
        console.send(f"/withdraw {note} {recipient}")
        console.until(r"Withdrawn: 0\.1 CRO")  # the console's own relayer takes no fee
        console.send(f"/withdraw {note} {recipient}")
        console.until(r"(?i)this note has already been spent")
        console.send("/mix 1")
        console.until(r"there is no 1 CRO pool on this chain; pools: 0\.1 CRO")
    finally:
        out, err = console.close()
    assert console.proc.returncode == 0, err
    assert "not available" not in out and "Traceback" not in out + err
    assert note not in err


def test_without_node_the_reply_says_how_to_add_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH with no `node` on it
    done = run_console(tmp_path, "/mix 0.1\n", env_extra={"PATH": str(empty)})
    assert done.returncode == 0, done.stderr
    assert "needs Node.js and the prover's files" in done.stdout and "Node.js (the `node` command)" in done.stdout
    assert "scripts/setup --node" in done.stdout, done.stdout
    assert "snowrail-cro-" not in done.stdout  # no note is handed out for a pool that does not exist
