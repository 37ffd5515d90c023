"""Mixer speed and cost on a fresh anvil: proof time (persistent prover vs a snarkjs process per proof),
gas per deposit (from a wallet, and from the treasury as an operator's /mix does) and per withdrawal (beside
NOTES' 816k/295k), time from a withdraw request to confirmed, and rebuilding the tree from the chain vs
restoring it from the database's deposit log.

    .venv/bin/python bench/mixer.py [--proofs N] [--deposits N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from adapters.chain import connect  # noqa: E402
from adapters.chain.deploy import deploy_stack  # noqa: E402
from adapters.chain.devnet import anvil_keys, start_anvil  # noqa: E402
from adapters.chain.rpc import HttpNode  # noqa: E402
from adapters.mixer import (  # noqa: E402
    MixerPool, Note, Proof, Prover, PublicInputs, TreeSync, deploy_mixer, witness_input,
)
from adapters.chain import settlement as st  # noqa: E402
from adapters.db import create_engine_for, upgrade  # noqa: E402
from adapters.db.mixer_repositories import SqlDepositLog  # noqa: E402
from adapters.mixer.prover import WASM, ZKEY  # noqa: E402
from core.ports import PaymentOrder  # noqa: E402
from core.services import new_intent_hash  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SNARKJS = REPO / "node_modules" / "snarkjs" / "build" / "cli.cjs"
DENOMINATION = 10**17
NOTES_GAS = {"deposit": 816_000, "withdraw": 295_000}


def subprocess_proof(inputs: dict) -> Proof:
    """The baseline: `snarkjs groth16 fullprove` as a fresh process (inputs in a private temp dir)."""
    with tempfile.TemporaryDirectory(prefix="mixer-bench-") as tmp:
        os.chmod(tmp, 0o700)
        inp, proof, public = (Path(tmp) / n for n in ("input.json", "proof.json", "public.json"))
        inp.write_text(json.dumps(inputs))
        subprocess.run(["node", str(SNARKJS), "groth16", "fullprove", str(inp), str(WASM), str(ZKEY), str(proof),
                        str(public)], check=True, capture_output=True, timeout=120)
        return Proof.from_snarkjs(json.loads(proof.read_text()), json.loads(public.read_text()))


def ms(xs: list[float]) -> dict:
    return {"median_ms": round(statistics.median(xs) * 1000), "min_ms": round(min(xs) * 1000),
            "max_ms": round(max(xs) * 1000), "n": len(xs)}


async def treasury_deposits(anvil_url: str, node: HttpNode, key: str, owner_key: str, pool: str,
                            count: int) -> list[int]:
    """Gas of an operator's /mix: the bot's own path, Settlement.executeMixerDeposit signed by the executor
    (`key`); `owner_key` owns the Settlement (the contract refuses one key for both)."""
    stack = await deploy_stack(node, key, owner=Account.from_key(owner_key).address,
                               treasury_native=count * DENOMINATION)
    owner = MixerPool(node, stack.settlement, owner_key, chain_id=stack.chain_id)  # any account's plain sender
    await owner.send(st.set_mixer_pool_calldata(pool), gas=100_000, simulate=False)
    chain = await connect(anvil_url, key, stack.settlement)
    try:
        gas = []
        for _ in range(count):
            note = Note.generate("cro", "0.1", stack.chain_id)
            order = PaymentOrder(new_intent_hash(), pool, chain.tokens.native, DENOMINATION,
                                 mixer_commitment=f"0x{note.commitment:064x}")
            signed = await chain.sign_payment(order, await chain.pending_nonce())
            await chain.broadcast(signed.raw)
            receipt = await chain.wait_for_receipt(signed.tx_hash, 60)
            assert receipt is not None and receipt.ok and order.intent_hash in receipt.paid
            gas.append(receipt.gas_used)
        return gas
    finally:
        await chain.close()


async def restore_vs_rebuild(relayer: MixerPool) -> dict:
    """A restart: the tree from the database's deposit log (then only new blocks) vs from every event."""
    with tempfile.TemporaryDirectory(prefix="mixer-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        await upgrade(url)
        engine = create_engine_for(url)
        try:
            t = time.perf_counter()
            await TreeSync(relayer, deposit_log=SqlDepositLog(engine)).sync()  # first run: chain, then stored
            rebuild = time.perf_counter() - t
            t = time.perf_counter()
            restored = TreeSync(relayer, deposit_log=SqlDepositLog(engine))
            await restored.sync()
            restore = time.perf_counter() - t
        finally:
            await engine.dispose()
    return {"rebuild_from_events_ms": round(rebuild * 1000, 1), "restore_from_db_ms": round(restore * 1000, 1),
            "leaves": len(restored.tree),
            "note": "anvil's history is a few hundred blocks; on Cronos a rebuild scans from the pool's creation "
                    "block in 2,000-block getLogs requests, which the restore skips"}


async def run(proofs: int, deposits: int) -> dict:
    anvil = start_anvil()
    node = HttpNode(anvil.url)
    try:
        keys = anvil_keys(4)
        deployment = await deploy_mixer(node, keys[0], DENOMINATION)
        pool = lambda key: MixerPool(node, deployment.mixer, key, chain_id=deployment.chain_id,  # noqa: E731
                                     deployed_block=deployment.block_number)
        relayer, depositor = pool(keys[1]), pool(keys[2])

        notes, deposit_gas = [], []
        for _ in range(deposits):
            note = Note.generate("cro", "0.1", deployment.chain_id)
            sent, _ = await depositor.deposit(note.commitment, DENOMINATION)
            notes.append(note)
            deposit_gas.append(sent.gas_used)

        treasury_gas = await treasury_deposits(anvil.url, node, keys[0], keys[3], deployment.mixer,
                                             max(3, deposits // 3))

        sync = TreeSync(relayer)
        t = time.perf_counter()
        await sync.sync()
        tree_sync_s = time.perf_counter() - t
        restart = await restore_vs_rebuild(relayer)

        def inputs_for(note: Note, recipient: str, fee: int) -> tuple[dict, PublicInputs]:
            path = sync.tree.path(sync.tree.index_of(note.commitment))
            public = PublicInputs(path.root, note.nullifier_hash, recipient, relayer.sender, fee)
            return witness_input(note, path, public), public

        sample, _ = inputs_for(notes[0], Account.create().address, 0)
        async with Prover() as prover:
            await prover.prove(sample)  # warm-up: JIT and curve tables
            persistent, baseline = [], []
            for _ in range(proofs):
                t = time.perf_counter()
                await prover.prove(sample)
                persistent.append(time.perf_counter() - t)
            for _ in range(proofs):
                t = time.perf_counter()
                await asyncio.to_thread(subprocess_proof, sample)
                baseline.append(time.perf_counter() - t)

            withdraw_gas: dict[str, list[int]] = {}
            phases: dict[str, list[float]] = {"sync": [], "prove": [], "send_to_receipt": [], "total": []}
            # A fresh recipient costs 25k more gas (a new account); an existing one is the comparable case.
            cases = [("fee 0, existing recipient", 0, True), ("fee 0, fresh recipient", 0, False),
                     ("fee 0.001, fresh recipient", 10**15, False)]
            for i, note in enumerate(notes[1:]):
                label, fee, existing = cases[i % len(cases)]
                recipient = Account.create().address
                if existing:
                    await node.request("anvil_setBalance", [recipient, "0x1"])
                start = time.perf_counter()
                await sync.sync()  # what /withdraw does: catch up on deposits, prove, relay, wait
                t1 = time.perf_counter()
                inputs, public = inputs_for(note, recipient, fee)
                proof = await prover.prove(inputs)
                t2 = time.perf_counter()
                sent = await relayer.withdraw(proof, public)
                t3 = time.perf_counter()
                for name, value in zip(phases, (t1 - start, t2 - t1, t3 - t2, t3 - start)):
                    phases[name].append(value)
                withdraw_gas.setdefault(label, []).append(sent.gas_used)
                assert await node.balance(recipient) == DENOMINATION - fee + (1 if existing else 0)

        return {
            "machine": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
            "proof_persistent": ms(persistent),
            "proof_subprocess_baseline": ms(baseline),
            "speedup": round(statistics.median(baseline) / statistics.median(persistent), 2),
            "goal_ms": 1000,
            "gas_deposit": {"median": int(statistics.median(deposit_gas)), "first": deposit_gas[0],
                            "max": max(deposit_gas), "notes_reference": NOTES_GAS["deposit"]},
            "gas_deposit_from_treasury": {"median": int(statistics.median(treasury_gas)), "max": max(treasury_gas),
                                          "over_wallet_deposit": int(statistics.median(treasury_gas)
                                                                     - statistics.median(deposit_gas))},
            "gas_withdraw": {k: int(statistics.median(v)) for k, v in withdraw_gas.items()}
                            | {"notes_reference": NOTES_GAS["withdraw"]},
            "withdraw_request_to_confirmed": {name: ms(v) for name, v in phases.items()} | {
                "note": "anvil mines at once; on Cronos add one ~5 s block"},
            "tree_sync_from_events_ms": round(tree_sync_s * 1000), "deposits": deposits,
            "tree_after_restart": restart,
        }
    finally:
        await node.close()
        anvil.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proofs", type=int, default=10)
    parser.add_argument("--deposits", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.proofs, max(args.deposits, 3))), indent=2))


if __name__ == "__main__":
    main()
