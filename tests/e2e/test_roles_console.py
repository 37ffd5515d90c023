"""Roles through the installed `snowrail` command: the console's /as, /role and /audit, and the accountant's export."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from adapters.db import create_engine_for, make_uow_factory
from core.model import AuditEntry

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"


def snowrail(tmp_path: Path, *args: str, script: str = "", env_extra: dict | None = None) -> subprocess.CompletedProcess:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "RPC_", "PRIVATE_", "SETTLEMENT_", "CHAIN_", "OPERATORS",
                                "ADMINS", "APPROVERS"))}
    env.update({"HOME": str(home)}, **(env_extra or {}))
    done = subprocess.run([SNOWRAIL, *args], input=script, capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done


def answers(out: str) -> dict[str, str]:
    """Each echoed command (`> /x`) and what followed it, up to the next one; repeats numbered `/x #2`."""
    found: dict[str, str] = {}
    for block in out.split("\n> ")[1:]:
        command, _, body = block.partition("\n")
        name, n = command, 1
        while name in found:
            n += 1
            name = f"{command} #{n}"
        found[name] = body
    return found


def test_as_plays_other_people_and_an_admin_gives_roles(tmp_path):
    script = "\n".join([
        "/as telegram:5 @bob",
        f"/pay {RECIPIENT} 1",
        "/role telegram:6 operator",
        "/as me",
        "/role telegram:5 operator",
        "/as telegram:5 @bob",
        f"/pay {RECIPIENT} 1",
        "/roles",
        "/as discord:nope!",
        "/as me",
        "/roles",
        "/audit 3",
    ]) + "\n"
    done = snowrail(tmp_path, "console", script=script)
    assert done.returncode == 0, done.stderr
    said = answers(done.stdout)
    assert "you are an admin" in done.stdout and "/as telegram:5 to act as someone else" in done.stdout
    assert said["/as telegram:5 @bob"].startswith("You are now telegram:5 (@bob)")
    assert said["/as telegram:5 @bob #2"].startswith("You are now telegram:5 (@bob)")
    member_pay = said[f"/pay {RECIPIENT} 1"]
    assert "Intent int-" in member_pay and "Payment pay-" not in member_pay  # a member funds it from their wallet
    assert "Only an admin can change roles; you are a member." in said["/role telegram:6 operator"]
    assert said["/as me"].startswith("You are yourself again (console:operator)")
    assert "@bob (telegram:5) is now an operator (was a member)" in said["/role telegram:5 operator"]
    # the change is announced to the admin at the terminal, through the outbox
    assert "🔔 Security alert: role changed" in said["/role telegram:5 operator"]
    assert "console:operator made @bob (telegram:5) an operator (was a member)." in said["/role telegram:5 operator"]
    assert "Payment pay-" in said[f"/pay {RECIPIENT} 1 #2"] and "confirmed" in said[f"/pay {RECIPIENT} 1 #2"].lower()
    assert "operator: telegram:5 (@bob) — set by console:operator on" in said["/roles"]
    assert "Usage: /as <platform>:<id>" in said["/as discord:nope!"]
    assert "admin: console:operator — ADMINS setting" in said["/roles #2"]
    audit = said["/audit 3"]
    assert "console:operator (admin) /roles ok" in audit and "telegram:5 (operator) /roles ok" in audit
    assert "telegram:5 (operator) /pay ok 1 CRO" in audit


def test_audit_export_writes_a_spreadsheet_safe_csv_for_an_accountant(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'snowrail.sqlite3'}"
    env = {"DATABASE_URL": database}
    done = snowrail(tmp_path, "console", script=f"/pay {RECIPIENT} 1.25 USDC\n/role telegram:5 boss\n", env_extra=env)
    assert "Payment pay-" in done.stdout, done.stdout

    async def planted() -> None:  # someone's text that a spreadsheet would run as a formula
        engine = create_engine_for(database)
        async with make_uow_factory(engine)() as uow:
            await uow.audit.add(AuditEntry("telegram:9", "pay", "k-formula", "invalid", '=HYPERLINK("http://x")',
                                           datetime.now(UTC), role="member"))
            await uow.commit()
        await engine.dispose()

    asyncio.run(planted())
    out = tmp_path / "audit.csv"
    done = snowrail(tmp_path, "audit", "export", "--csv", str(out), env_extra=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 3 audit entries to {out}"
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert list(rows[0]) == ["at", "actor", "role", "command", "outcome", "amount", "token", "key", "detail"]
    pay, role, formula = rows
    assert (pay["actor"], pay["role"], pay["command"], pay["outcome"], pay["amount"], pay["token"]) == (
        "console:operator", "admin", "pay", "ok", "1.25", "USDC")
    assert datetime.fromisoformat(pay["at"]).tzinfo is not None
    assert role["outcome"] == "invalid" and "role: boss is not one of member, operator, approver, admin" in role["detail"]
    assert formula["detail"] == '\'=HYPERLINK("http://x")'

    since = snowrail(tmp_path, "audit", "export", "--since", "2999-01-01", "--csv", str(out), env_extra=env)
    assert since.returncode == 0 and since.stdout.strip() == f"wrote 0 audit entries to {out}"
    bad = snowrail(tmp_path, "audit", "export", "--since", "yesterday", "--csv", str(out), env_extra=env)
    assert bad.returncode == 2 and "--since: “yesterday” is not a date" in bad.stderr
    missing = snowrail(tmp_path, "audit", "export", "--csv", str(out))
    assert missing.returncode == 2 and "DATABASE_URL is not set" in missing.stderr
