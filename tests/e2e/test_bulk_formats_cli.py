"""`snowrail bulk check` on every format as a process (exit 0/1/2, the same JSON), Cronos's registry with no node,
and `snowrail bulk run` executing a file through the engine on the embedded chain."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from openpyxl import Workbook

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
A = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
B = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"
A_SUM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
CRONOS_USDC = "0xc21223249ca28397b4b6541dffaecc539bff0c59"  # lower case: matched whatever the case
KEYS = {"rows", "valid", "errors", "duplicates", "totals"}


def snowrail(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    done = subprocess.run([SNOWRAIL, *args], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def check(tmp_path: Path, name: str, data: bytes, env: dict[str, str] | None = None) -> tuple[int, dict]:
    (tmp_path / name).write_bytes(data)
    code, out, _ = snowrail(tmp_path, "bulk", "check", name, "--json", env=env)
    result = json.loads(out)
    assert set(result) == KEYS
    return code, result


def sheet(*rows: list) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_safe_airdrop_csv_on_cronos_needs_no_node(tmp_path: Path) -> None:
    safe = (f"token_type,token_address,receiver,amount,id\nerc20,{CRONOS_USDC},{A},12.5\nnative,,{B},1\n").encode()
    code, result = check(tmp_path, "airdrop.csv", safe, env={"CHAIN_ID": "25"})
    assert code == 0 and result["totals"] == {"USDC": "12.5", "CRO": "1"} and result["errors"] == []
    bad = safe + f"erc721,{CRONOS_USDC},{A},,5\nerc20,0x{'12' * 20},{A},1\nweird,,{A},1\n".encode()
    code, result = check(tmp_path, "airdrop.csv", bad, env={"CHAIN_ID": "25"})
    assert code == 1 and [e["line"] for e in result["errors"]] == [4, 5, 6]
    assert "NFT transfers are not supported" in result["errors"][0]["error"] and "0x" + "12" * 20 in result["errors"][1]["error"]
    code, result = check(tmp_path, "mixed.csv", f"token_type,token_address,receiver,amount,value\nnative,,{A},1,1\n".encode())
    assert code == 2 and result["errors"][0]["line"] == 0


def test_disperse_list_json_and_xlsx(tmp_path: Path) -> None:
    code, result = check(tmp_path, "list.txt", f"{A} 1.5\n{B}=2\n{A},0.5\n".encode())
    assert code == 0 and result["totals"] == {"CRO": "4"} and result["duplicates"][0]["lines"] == [1, 3]
    code, result = check(tmp_path, "list.txt", f"{A} 1.5\nthank you\n".encode())
    assert code == 1 and result["errors"][0]["line"] == 2
    code, result = check(tmp_path, "pay.json", f'[{{"to": "{A}", "amount": "2"}}]'.encode())
    assert code == 0 and result["totals"] == {"CRO": "2"}
    code, result = check(tmp_path, "pay.xlsx", sheet(["Recipient", "Amount", "Token"], [A, 1.25, "USDC"], [B, 3]))
    assert code == 0 and result == {"rows": 2, "valid": 2, "errors": [], "duplicates": [],
                                    "totals": {"USDC": "1.25", "CRO": "3"}}
    code, result = check(tmp_path, "empty.xlsx", sheet(["recipient", "amount"]))
    assert code == 2 and "no payment rows" in result["errors"][0]["error"]


def test_handles_are_listed_as_needing_a_chat_upload(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(f"recipient,amount\n@alice,1\n<@123>,2\n{A},3\n")
    code, out, _ = snowrail(tmp_path, "bulk", "check", "people.csv")
    assert code == 0 and "lines naming a person (@handle or mention): 2, 3" in out
    code, result = check(tmp_path, "people.csv", (tmp_path / "people.csv").read_bytes())
    assert code == 0 and result["valid"] == 3


def test_bulk_run_executes_through_the_engine_as_an_operator(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text(f"{A} 1\n{B} 2\n")
    env = {"OPERATORS": "telegram:1", "DATA_DIR": str(tmp_path / "data")}
    code, out, err = snowrail(tmp_path, "bulk", "run", "big.txt", "--as", "telegram:1", env=env, timeout=180)
    assert code == 0, out + err
    assert "batch bulk-" in out and "2 paid, 0 failed" in out
    code, out, err = snowrail(tmp_path, "bulk", "run", "big.txt", "--as", "telegram:2", env=env, timeout=180)
    assert code == 1 and "not an operator" in err
    (tmp_path / "bad.txt").write_text(f"{A} 1\nnope\n")
    code, out, err = snowrail(tmp_path, "bulk", "run", "bad.txt", "--as", "telegram:1", env=env, timeout=180)
    assert code == 1 and "nothing was stored" in err and "line 2" in out + err
