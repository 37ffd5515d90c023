"""Groth16 withdraw proofs from a persistent snarkjs process, and their Solidity calldata."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from core.errors import TransientError

from .note import Note
from .tree import MerklePath

CIRCUIT_DIR = Path(__file__).resolve().parents[2] / "circuits" / "artifacts"
WASM = CIRCUIT_DIR / "withdraw.wasm"
ZKEY = CIRCUIT_DIR / "withdraw_final.zkey"
VKEY = CIRCUIT_DIR / "verification_key.json"
_SCRIPT = Path(__file__).with_name("prover.js")


class ProverError(TransientError):
    """The prover process failed or the inputs have no valid witness (the message never holds inputs)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, service="prover")


@dataclass(frozen=True)
class PublicInputs:
    root: int
    nullifier_hash: int
    recipient: str
    relayer: str
    fee: int

    def signals(self) -> list[int]:
        """In the circuit's order: root, nullifierHash, recipient, relayer, fee."""
        return [self.root, self.nullifier_hash, int(self.recipient, 16), int(self.relayer, 16), self.fee]


@dataclass(frozen=True)
class Proof:
    """A proof in the order Solidity's verifier takes it (pi_b's coordinate pairs already swapped)."""

    a: tuple[int, int]
    b: tuple[tuple[int, int], tuple[int, int]]
    c: tuple[int, int]
    public: tuple[int, ...]

    @classmethod
    def from_snarkjs(cls, proof: dict, public: list[str]) -> Proof:
        a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
        # snarkjs gives G2 coordinates as (c0, c1); the EVM pairing precompile wants (c1, c0).
        return cls(
            (int(a[0]), int(a[1])),
            ((int(b[0][1]), int(b[0][0])), (int(b[1][1]), int(b[1][0]))),
            (int(c[0]), int(c[1])),
            tuple(int(x) for x in public),
        )

    def calldata(self) -> tuple[list[int], list[list[int]], list[int]]:
        return list(self.a), [list(self.b[0]), list(self.b[1])], list(self.c)


def witness_input(note: Note, path: MerklePath, public: PublicInputs) -> dict:
    if public.root != path.root:
        raise ValueError("the path's root and the public root differ")
    return {
        "root": str(public.root),
        "nullifierHash": str(public.nullifier_hash),
        "recipient": str(int(public.recipient, 16)),
        "relayer": str(int(public.relayer, 16)),
        "fee": str(public.fee),
        "nullifier": str(note.nullifier),
        "secret": str(note.secret),
        "siblings": [str(s) for s in path.siblings],
        "isRight": [str(b) for b in path.is_right],
    }


class Prover:
    """One node process that proves requests one at a time (the process itself uses both cores).

    Start it once (`await prover.start()`, or `async with Prover() as prover`) and reuse it: loading snarkjs,
    the curve and the 3 MB zkey costs more than a proof."""

    def __init__(self, wasm: Path = WASM, zkey: Path = ZKEY, *, node: str | None = None, timeout: float = 60.0):
        self.wasm, self.zkey, self.timeout = Path(wasm), Path(zkey), timeout
        self.node = node or shutil.which("node") or "node"
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0

    async def __aenter__(self) -> Prover:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Pipes belong to the loop that made them (an RQ job runs each job in a new loop): start afresh.
            if self._proc is not None and self._proc.returncode is None:
                self._proc.kill()
            self._proc, self._loop, self._lock = None, loop, asyncio.Lock()
        if self.running:
            return
        for f in (self.wasm, self.zkey):
            if not f.exists():
                raise ProverError(f"{f.name} is missing: run circuits/build.sh or check out circuits/artifacts")
        self._proc = await asyncio.create_subprocess_exec(
            self.node, str(_SCRIPT), str(self.wasm), str(self.zkey),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 20,
        )
        line = await self._read_line(30.0)
        if not json.loads(line).get("ready"):
            raise ProverError("the prover did not start")

    async def prove(self, inputs: dict) -> Proof:
        if self._loop is not asyncio.get_running_loop():
            await self.start()
        async with self._lock:
            if not self.running:
                await self.start()
            self._next_id += 1
            request_id = self._next_id
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"id": request_id, "input": inputs}).encode() + b"\n")
            await self._proc.stdin.drain()
            reply = json.loads(await self._read_line(self.timeout))
            if reply.get("id") != request_id:
                await self.close()
                raise ProverError("the prover answered out of turn; restarted it")
            if "error" in reply:
                raise ProverError(f"no proof: {reply['error']}")
            return Proof.from_snarkjs(reply["proof"], reply["publicSignals"])

    async def _read_line(self, timeout: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        except asyncio.TimeoutError:
            await self.close()
            raise ProverError(f"the prover took more than {timeout:.0f} s; restarted it") from None
        if not line:
            await self.close()
            raise ProverError("the prover process exited")
        return line

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
