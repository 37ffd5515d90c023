"""The zero-setup dashboard: `snowrail console` with WEB_PORT set serves it beside the chat; /dashboard prints a
one-time link (the console's DM), and that link signs the person at the terminal in."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login\?token=\S+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_until(process: subprocess.Popen[str], pattern: re.Pattern[str] | str) -> str:
    """Lines of the console's output up to the first matching one (the console prints as it goes)."""
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if (re.search(pattern, line) if isinstance(pattern, re.Pattern) else pattern in line):
            return line
    raise AssertionError("the console ended first:\n" + "".join(seen))


def test_sign_in_from_the_link_the_console_printed(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_", "WEB_"))}
    env.update(HOME=str(tmp_path), WEB_PORT=str(port), PYTHONUNBUFFERED="1")
    console = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    try:
        read_until(console, "Dashboard on")
        assert console.stdin is not None
        console.stdin.write("/dashboard\n")
        console.stdin.flush()
        link = LINK.search(read_until(console, LINK))
        assert link is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get(link.group(1)).status_code == 200
            signed = client.post("/login", data={"token": link.group(1).split("token=", 1)[1]}, follow_redirects=True)
            assert signed.status_code == 200 and "Treasury" in signed.text, signed.text[-500:]
            assert "Content-Security-Policy" in signed.headers
            assert client.get("/static/htmx.min.js").status_code == 200  # vendored: nothing from a CDN
            again = httpx.post(f"http://127.0.0.1:{port}/login", data={"token": link.group(1).split("token=", 1)[1]})
            assert again.status_code == 410
        console.stdin.close()  # end of input ends the console (and the dashboard beside it)
        assert console.wait(timeout=60) == 0
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()


def test_the_vendored_htmx_is_the_one_npm_installs():
    repo = Path(__file__).resolve().parents[2]
    installed = repo / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
    served = repo / "adapters" / "web" / "static" / "htmx.min.js"
    assert served.read_bytes() == installed.read_bytes(), "copy node_modules/htmx.org/dist/htmx.min.js again"
