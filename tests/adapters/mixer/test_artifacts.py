"""The committed circuit, keys, verifier and contract artifacts match what their scripts rebuild."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from adapters.mixer.artifacts import load
from adapters.mixer.prover import VKEY

REPO = Path(__file__).resolve().parents[3]


def test_circuit_recompiles_to_the_committed_one_and_keys_match():
    """Recompiles the circuit (no setup) and re-exports the verification key and verifier from the zkey."""
    out = subprocess.run(["bash", "circuits/build.sh", "--check"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "match the committed ones" in out.stdout


def test_contract_artifacts_are_up_to_date():
    out = subprocess.run(["node", "contracts/mixer/compile.js", "--check"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_verification_key_has_our_five_public_inputs():
    vkey = json.loads(VKEY.read_text())
    assert vkey["protocol"] == "groth16" and vkey["curve"] == "bn128"
    assert vkey["nPublic"] == 5
    withdraw = next(f for f in load("Mixer").abi if f.get("name") == "withdraw")
    assert [i["name"] for i in withdraw["inputs"]][3:] == ["root", "nullifierHash", "recipient", "relayer", "fee"]
