// SPDX-License-Identifier: GPL-3.0
pragma circom 2.1.0;

// SnowRail mixer withdrawal: knowledge of (nullifier, secret) whose commitment is a leaf under `root`.
// Uses circomlib's Poseidon (GPL-3.0): this circuit is a derived work under the same licence.

include "circomlib/circuits/poseidon.circom";

// commitment = Poseidon(nullifier, secret); nullifierHash = Poseidon(nullifier).
template NoteHashes() {
    signal input nullifier;
    signal input secret;
    signal output commitment;
    signal output nullifierHash;

    component c = Poseidon(2);
    c.inputs[0] <== nullifier;
    c.inputs[1] <== secret;
    commitment <== c.out;

    component n = Poseidon(1);
    n.inputs[0] <== nullifier;
    nullifierHash <== n.out;
}

// One level of the path: orders (node, sibling) by `isRight` and hashes the pair.
template PathStep() {
    signal input node;
    signal input sibling;
    signal input isRight;
    signal output parent;

    isRight * (1 - isRight) === 0;
    // isRight == 0: (node, sibling); isRight == 1: (sibling, node).
    signal swap;
    swap <== isRight * (sibling - node);

    component h = Poseidon(2);
    h.inputs[0] <== node + swap;
    h.inputs[1] <== sibling - swap;
    parent <== h.out;
}

template MerkleRoot(depth) {
    signal input leaf;
    signal input siblings[depth];
    signal input isRight[depth];
    signal output root;

    component steps[depth];
    for (var i = 0; i < depth; i++) {
        steps[i] = PathStep();
        steps[i].node <== i == 0 ? leaf : steps[i - 1].parent;
        steps[i].sibling <== siblings[i];
        steps[i].isRight <== isRight[i];
    }
    root <== steps[depth - 1].parent;
}

template Withdraw(depth) {
    signal input root;
    signal input nullifierHash;
    signal input recipient;
    signal input relayer;
    signal input fee;

    signal input nullifier;
    signal input secret;
    signal input siblings[depth];
    signal input isRight[depth];

    component note = NoteHashes();
    note.nullifier <== nullifier;
    note.secret <== secret;
    note.nullifierHash === nullifierHash;

    component tree = MerkleRoot(depth);
    tree.leaf <== note.commitment;
    for (var i = 0; i < depth; i++) {
        tree.siblings[i] <== siblings[i];
        tree.isRight[i] <== isRight[i];
    }
    tree.root === root;

    // Public inputs that take part in no constraint could be swapped after proving; a quadratic
    // constraint on each binds it to the proof.
    signal recipientSquare <== recipient * recipient;
    signal relayerSquare <== relayer * relayer;
    signal feeSquare <== fee * fee;
}

component main {public [root, nullifierHash, recipient, relayer, fee]} = Withdraw(20);
