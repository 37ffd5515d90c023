"""The mixer pool on anvil with real Groth16 proofs: deposits, relayed withdrawals and every forgery we know."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak

from adapters.mixer.note import Note
from adapters.mixer.pool import GAS_WITHDRAW, PoolRejected
from adapters.mixer.poseidon import FIELD
from adapters.mixer.prover import Proof, PublicInputs, witness_input
from adapters.mixer.sync import TreeSync
from adapters.mixer.tree import CommitmentTree, zeros

from .conftest import DENOMINATION, MixerStack, fresh_address

pytestmark = pytest.mark.anvil

FEE = 10**15  # 0.001 CRO to the relayer


async def deposit_note(stack: MixerStack) -> tuple[Note, int]:
    note = Note.generate("cro", "0.1", stack.chain_id)
    _, index = await stack.depositor.deposit(note.commitment, DENOMINATION)
    return note, index


async def prove_withdrawal(stack: MixerStack, prover, note: Note, recipient: str, fee: int = FEE,
                           relayer: str | None = None) -> tuple[Proof, PublicInputs]:
    sync = TreeSync(stack.relayer)
    await sync.sync()
    index = sync.tree.index_of(note.commitment)
    assert index is not None
    path = sync.tree.path(index)
    public = PublicInputs(path.root, note.nullifier_hash, recipient, relayer or stack.relayer.sender, fee)
    return await prover.prove(witness_input(note, path, public)), public


async def balance(stack: MixerStack, address: str) -> int:
    return await stack.node.balance(address)


async def test_contract_zeros_and_roots_match_python_tree(mixer_stack):
    pool = mixer_stack.relayer
    for level in (0, 1, 7, 19, 20):
        assert await pool.zeros(level) == zeros()[level]
    for _ in range(3):
        await deposit_note(mixer_stack)
    sync = TreeSync(pool)
    await sync.sync()
    assert len(sync.tree) == await pool.next_index()
    assert sync.tree.root == await pool.last_root()
    rebuilt = CommitmentTree(leaves=[e.commitment for e in await pool.deposits(0)])
    assert rebuilt.root == sync.tree.root


async def test_deposit_then_relayed_withdraw_pays_denomination_minus_fee(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    recipient = fresh_address()
    relayer = mixer_stack.relayer.sender
    proof, public = await prove_withdrawal(mixer_stack, prover, note, recipient)
    before = await balance(mixer_stack, relayer)
    sent = await mixer_stack.relayer.withdraw(proof, public)
    assert await balance(mixer_stack, recipient) == DENOMINATION - FEE
    assert await balance(mixer_stack, relayer) == before + FEE - sent.fee_paid
    assert await mixer_stack.relayer.is_spent(note.nullifier_hash)
    assert sent.gas_used < GAS_WITHDRAW
    print(f"\nwithdraw gas: {sent.gas_used}")


async def test_double_spend_is_rejected(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    proof, public = await prove_withdrawal(mixer_stack, prover, note, fresh_address())
    await mixer_stack.relayer.withdraw(proof, public)
    with pytest.raises(PoolRejected, match="already been spent") as e:
        await mixer_stack.relayer.withdraw(proof, public)
    assert e.value.reason == "NoteAlreadySpent"
    # A fresh proof for another recipient spends the same nullifier: refused too.
    proof2, public2 = await prove_withdrawal(mixer_stack, prover, note, fresh_address())
    with pytest.raises(PoolRejected, match="already been spent"):
        await mixer_stack.relayer.withdraw(proof2, public2)


async def test_proof_for_one_recipient_cannot_pay_another(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    alice, mallory = fresh_address(), fresh_address()
    proof, public = await prove_withdrawal(mixer_stack, prover, note, alice)
    for tampered in (
        PublicInputs(public.root, public.nullifier_hash, mallory, public.relayer, public.fee),
        PublicInputs(public.root, public.nullifier_hash, public.recipient, mallory, public.fee),
        PublicInputs(public.root, public.nullifier_hash, public.recipient, public.relayer, public.fee + 1),
        PublicInputs(public.root, public.nullifier_hash, public.recipient, public.relayer, 0),
    ):
        with pytest.raises(PoolRejected, match="rejected the proof") as e:
            await mixer_stack.relayer.withdraw(proof, tampered)
        assert e.value.reason == "InvalidProof"
    assert await balance(mixer_stack, mallory) == 0
    # The honest submission still works afterwards.
    await mixer_stack.relayer.withdraw(proof, public)
    assert await balance(mixer_stack, alice) == DENOMINATION - FEE


async def test_withdrawing_an_older_deposit_among_several(mixer_stack, prover):
    notes = [(await deposit_note(mixer_stack))[0] for _ in range(4)]
    # The second of the four, then the first: neither is the latest leaf.
    for note in (notes[1], notes[0]):
        recipient = fresh_address()
        proof, public = await prove_withdrawal(mixer_stack, prover, note, recipient, fee=0)
        await mixer_stack.relayer.withdraw(proof, public)
        assert await balance(mixer_stack, recipient) == DENOMINATION


async def test_proof_under_an_older_root_still_withdraws(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    recipient = fresh_address()
    proof, public = await prove_withdrawal(mixer_stack, prover, note, recipient)
    for _ in range(2):  # the tree moves on before the withdrawal is mined
        await deposit_note(mixer_stack)
    await mixer_stack.relayer.withdraw(proof, public)
    assert await balance(mixer_stack, recipient) == DENOMINATION - FEE


def forged_proofs(public: PublicInputs, valid: Proof) -> dict[str, Proof]:
    signals = public.signals()
    # The seed's check: the "proof" only had to start with keccak256 of the public inputs.
    binding = int.from_bytes(keccak(abi_encode(["uint256[5]"], [signals])), "big")
    return {
        "binding-only (seed)": Proof((binding % FIELD, 0), ((0, 0), (0, 0)), (0, 0), tuple(signals)),
        "binding-only, full word": Proof((binding, 0), ((0, 0), (0, 0)), (0, 0), tuple(signals)),
        "all zeros": Proof((0, 0), ((0, 0), (0, 0)), (0, 0), tuple(signals)),
        "valid point moved": Proof((valid.a[0], (valid.a[1] + 1) % FIELD), valid.b, valid.c, valid.public),
        "pi_b not swapped": Proof(valid.a, ((valid.b[0][1], valid.b[0][0]), (valid.b[1][1], valid.b[1][0])),
                                  valid.c, valid.public),
        "A and C exchanged": Proof(valid.c, valid.b, valid.a, valid.public),
    }


async def test_forged_proofs_are_rejected_on_chain(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    recipient = fresh_address()
    valid, public = await prove_withdrawal(mixer_stack, prover, note, recipient)
    pool = mixer_stack.relayer
    for name, forged in forged_proofs(public, valid).items():
        with pytest.raises(PoolRejected) as e:
            await pool.withdraw(forged, public)
        assert e.value.reason == "InvalidProof", name
    # Mined, not just simulated: the seed's forgery sent as a real transaction with the fixed gas limit.
    seed = forged_proofs(public, valid)["binding-only (seed)"]
    with pytest.raises(PoolRejected, match="rejected the proof"):
        await pool.send(pool.withdraw_data(seed, public), gas=GAS_WITHDRAW, simulate=False)
    assert await balance(mixer_stack, recipient) == 0
    assert not await pool.is_spent(note.nullifier_hash)


async def test_note_outside_the_tree_cannot_withdraw(mixer_stack, prover):
    """A proof against a root the pool never had (a tree holding an undeposited commitment) is refused."""
    ghost = Note.generate("cro", "0.1", mixer_stack.chain_id)
    sync = TreeSync(mixer_stack.relayer)
    await sync.sync()
    fake = CommitmentTree(leaves=[*(e.commitment for e in sync.events), ghost.commitment])
    path = fake.path(len(fake) - 1)
    public = PublicInputs(path.root, ghost.nullifier_hash, fresh_address(), mixer_stack.relayer.sender, 0)
    proof = await prover.prove(witness_input(ghost, path, public))
    with pytest.raises(PoolRejected, match="Merkle root") as e:
        await mixer_stack.relayer.withdraw(proof, public)
    assert e.value.reason == "UnknownRoot"


async def test_pool_checks_fee_value_and_duplicates(mixer_stack, prover):
    pool = mixer_stack.depositor
    note = Note.generate("cro", "0.1", mixer_stack.chain_id)
    with pytest.raises(PoolRejected, match="exactly the pool's denomination"):
        await pool.deposit(note.commitment, DENOMINATION - 1)
    with pytest.raises(PoolRejected, match="outside"):
        await pool.deposit(FIELD, DENOMINATION)
    await pool.deposit(note.commitment, DENOMINATION)
    with pytest.raises(PoolRejected, match="already deposited"):
        await pool.deposit(note.commitment, DENOMINATION)
    proof, public = await prove_withdrawal(mixer_stack, prover, note, fresh_address(), fee=DENOMINATION + 1)
    with pytest.raises(PoolRejected, match="fee is larger"):
        await mixer_stack.relayer.withdraw(proof, public)


async def test_relayer_short_of_gas_is_a_clear_error(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    poor = mixer_stack.pool_for(Account.create().key.hex())
    proof, public = await prove_withdrawal(mixer_stack, prover, note, fresh_address(), relayer=poor.sender)
    with pytest.raises(PoolRejected, match="short of gas"):
        await poor.withdraw(proof, public)


async def test_prover_refuses_inconsistent_inputs_without_echoing_them(mixer_stack, prover):
    note, _ = await deposit_note(mixer_stack)
    sync = TreeSync(mixer_stack.relayer)
    await sync.sync()
    path = sync.tree.path(sync.tree.index_of(note.commitment))
    wrong = PublicInputs(path.root, note.nullifier_hash + 1, fresh_address(), mixer_stack.relayer.sender, 0)
    from adapters.mixer.prover import ProverError

    with pytest.raises(ProverError) as e:
        await prover.prove(witness_input(note, path, wrong))
    text = str(e.value)
    assert str(note.nullifier)[:12] not in text and str(note.secret)[:12] not in text
    assert str(note.nullifier_hash)[:12] not in text
    # The process survives a failed request.
    good = PublicInputs(path.root, note.nullifier_hash, fresh_address(), mixer_stack.relayer.sender, 0)
    assert (await prover.prove(witness_input(note, path, good))).public == tuple(good.signals())

