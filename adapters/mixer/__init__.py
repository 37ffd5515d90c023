"""The privacy mixer: Poseidon, notes, the commitment tree, the Groth16 prover and the pool contract client.

Public API
    Note, parse_note, NoteError, contains_note        notes `snowrail-<token>-<amount>-<chainId>-0x<hex>`
    poseidon(*xs), CommitmentTree, zeros()             hashing and the depth-20 tree, as circuit and contract
    Prover, PublicInputs, Proof, witness_input         a persistent snarkjs process (start once, reuse)
    MixerPool, PoolRejected, TreeSync                  one pool on chain; the tree mirrored from its events
    deploy_mixer(node, key, denomination)              hasher + verifier + pool
    MixerService.connect(node, pools, relayer_key, ...) core.ports.Mixer: /mix and /withdraw for the engine
    RelayLimits, MemoryRelayLog                        failed relays allowed per note and user; a RelayLog in memory
    PoolDeposit, DepositLog, RelayLog                  what the mixer keeps in the database (adapters/db implements them)
The pool takes adapters.chain's JSON-RPC transport (HttpNode/TesterNode). Nothing connects at import time.
"""

from .deploy import DENOMINATIONS, MixerDeployment, deploy_mixer
from .note import Note, NoteError, contains_note, parse_note
from .pool import GAS_DEPOSIT, GAS_WITHDRAW, DepositEvent, MixerPool, PoolRejected, Sent
from .ports import DepositLog, PoolDeposit, RelayLog
from .poseidon import FIELD, poseidon
from .prover import Proof, Prover, ProverError, PublicInputs, witness_input
from .relay import MemoryRelayLog, RelayLimits
from .service import MixerService, parse_pools_setting
from .sync import TreeOutOfSync, TreeSync
from .tree import DEPTH, CommitmentTree, MerklePath, zeros

__all__ = [
    "DENOMINATIONS", "DEPTH", "FIELD", "GAS_DEPOSIT", "GAS_WITHDRAW", "CommitmentTree", "DepositEvent", "DepositLog",
    "MemoryRelayLog", "MerklePath", "MixerDeployment", "MixerPool", "MixerService", "Note", "NoteError", "PoolDeposit",
    "PoolRejected", "Proof", "Prover", "ProverError", "PublicInputs", "RelayLimits", "RelayLog", "Sent", "TreeOutOfSync",
    "TreeSync", "contains_note", "deploy_mixer", "parse_note", "parse_pools_setting", "poseidon", "witness_input", "zeros",
]
