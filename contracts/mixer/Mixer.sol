// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// Poseidon(2) as circomlibjs' poseidonContract.createCode(2) deploys it (same output as circomlib).
interface IPoseidonHasher {
    function poseidon(uint256[2] calldata input) external pure returns (uint256);
}

/// The verifier snarkjs exports from our withdraw circuit's zkey (public signals in circuit order).
interface IWithdrawVerifier {
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[5] calldata pubSignals
    ) external view returns (bool);
}

/// @title SnowRail mixer pool: fixed-denomination native-coin deposits into a Poseidon Merkle tree,
/// withdrawn to any address with a Groth16 proof of knowing a deposit's note, optionally through a relayer.
/// @notice One pool per denomination (0.1, 1, 10, 100 CRO are separate deployments).
contract Mixer is ReentrancyGuard {
    uint256 public constant FIELD_SIZE =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint8 public constant LEVELS = 20;
    uint32 public constant ROOT_HISTORY_SIZE = 30;
    /// keccak256("snowrail") mod FIELD_SIZE: the value of an empty leaf.
    uint256 public constant ZERO_VALUE = 0x23434cf1574a20c07b14075e18403f1abd60994ce385d402ac8cc31de321578d;

    IPoseidonHasher public immutable hasher;
    IWithdrawVerifier public immutable verifier;
    uint256 public immutable denomination;

    /// filledSubtrees[i]: the latest left node at level i, the sibling a new right node pairs with.
    uint256[LEVELS] public filledSubtrees;
    uint256[ROOT_HISTORY_SIZE] public roots;
    uint32 public currentRootIndex;
    uint32 public nextIndex;

    mapping(uint256 => bool) public commitments;
    mapping(uint256 => bool) public nullifierHashes;

    event Deposit(uint256 indexed commitment, uint32 leafIndex, uint256 timestamp);
    event Withdrawal(address to, uint256 nullifierHash, address indexed relayer, uint256 fee);

    error WrongValue(uint256 expected, uint256 sent);
    error NotAFieldElement();
    error CommitmentExists();
    error TreeFull();
    error FeeExceedsDenomination();
    error NoteAlreadySpent();
    error UnknownRoot();
    error InvalidProof();
    error ZeroRecipient();
    error PaymentFailed(address to);
    error NotPayable();

    constructor(IPoseidonHasher hasher_, IWithdrawVerifier verifier_, uint256 denomination_) {
        require(denomination_ > 0, "denomination must be positive");
        hasher = hasher_;
        verifier = verifier_;
        denomination = denomination_;
        for (uint256 i = 0; i < LEVELS; i++) {
            filledSubtrees[i] = zeros(i);
        }
        roots[0] = zeros(LEVELS);
    }

    /// Adds `commitment` = Poseidon(nullifier, secret) as the next leaf; msg.value must be the denomination.
    function deposit(uint256 commitment) external payable nonReentrant {
        if (msg.value != denomination) revert WrongValue(denomination, msg.value);
        if (commitment >= FIELD_SIZE) revert NotAFieldElement();
        if (commitments[commitment]) revert CommitmentExists();
        commitments[commitment] = true;
        uint32 leafIndex = _insert(commitment);
        emit Deposit(commitment, leafIndex, block.timestamp);
    }

    /// Pays denomination - fee to `recipient` and fee to `relayer` if the proof shows knowledge of an unspent
    /// note under a recent root, made for exactly these recipient, relayer and fee.
    function withdraw(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256 root,
        uint256 nullifierHash,
        address payable recipient,
        address payable relayer,
        uint256 fee
    ) external nonReentrant {
        if (fee > denomination) revert FeeExceedsDenomination();
        if (recipient == address(0)) revert ZeroRecipient();
        // The verifier checks its inputs are field elements too; checking here keeps nullifier hashes
        // canonical whatever verifier is plugged in.
        if (nullifierHash >= FIELD_SIZE || root >= FIELD_SIZE) revert NotAFieldElement();
        if (nullifierHashes[nullifierHash]) revert NoteAlreadySpent();
        if (!isKnownRoot(root)) revert UnknownRoot();
        uint256[5] memory pub = [root, nullifierHash, uint256(uint160(address(recipient))), uint256(uint160(address(relayer))), fee];
        if (!verifier.verifyProof(pA, pB, pC, pub)) revert InvalidProof();

        nullifierHashes[nullifierHash] = true;
        _pay(recipient, denomination - fee);
        if (fee > 0) _pay(relayer, fee);
        emit Withdrawal(recipient, nullifierHash, relayer, fee);
    }

    function isKnownRoot(uint256 root) public view returns (bool) {
        if (root == 0) return false;
        uint32 i = currentRootIndex;
        for (uint32 n = 0; n < ROOT_HISTORY_SIZE; n++) {
            if (roots[i] == root) return true;
            i = i == 0 ? ROOT_HISTORY_SIZE - 1 : i - 1;
        }
        return false;
    }

    function getLastRoot() external view returns (uint256) {
        return roots[currentRootIndex];
    }

    function isSpent(uint256 nullifierHash) external view returns (bool) {
        return nullifierHashes[nullifierHash];
    }

    /// Root of an empty subtree of height i (i = 0: an empty leaf), as adapters/mixer/tree.py computes them.
    function zeros(uint256 i) public pure returns (uint256) {
        if (i == 0) return 0x23434cf1574a20c07b14075e18403f1abd60994ce385d402ac8cc31de321578d;
        if (i == 1) return 0x097f4035a30cbd361893b507797210fbcb85a69bd4b4231930470481e02b8297;
        if (i == 2) return 0x01d66c6c6cc56d5dee4361c66868b5d5ce1256f2bcccd88ce0c8488a7cc6ffd1;
        if (i == 3) return 0x2e1b7c785a52b4363686db1ee2f4e668d5af975a32d3d779bbf714124630d2aa;
        if (i == 4) return 0x0ab8d93f26215c5c17383c4418aec28dc391c554bdbcb7d980f790c4d9bf4819;
        if (i == 5) return 0x144f92b1a8e933e8043b15386990403ac1a9a505042423c962cdd8466f4664ab;
        if (i == 6) return 0x07a3cb68812be5f9fd70262b4216e32527e0bae1968de51827d80214acf71a71;
        if (i == 7) return 0x18a4d8a26d74c512cbf57977ace6bdd9c4ea4c0fa46bfddf24050bf3f0383de2;
        if (i == 8) return 0x1edab494d30169d5243336863893b14b8b84ccd1d9ac3f31924fa073d0d04d01;
        if (i == 9) return 0x0f9d86797cf0099efa1c4b28eb0ca47fb6fde455305a1eb39d907d3485177190;
        if (i == 10) return 0x1f53bab27b10adebf50e0c55ec04635dad2ddbfaedb419263d90bfe8375a0271;
        if (i == 11) return 0x04f4be02f50c2ed9041a69bf1940d4c0956e4414b30a753a7bb84b30b9b1da75;
        if (i == 12) return 0x0c2e6a5037e9bd0fec707499c3930d72a46a4b8efc8ecefc301c6e4f8831ba67;
        if (i == 13) return 0x10f6e977279e6df8d96c148c8ef395087c929474549964b5e1064e536c38960e;
        if (i == 14) return 0x1d64b3f7fe3f143a05174417ebb0d3decd9d7dc1a8c31b02d924dd9816e8f746;
        if (i == 15) return 0x26559e90f3347b81e2b026c6220366104c83a5651b3ae36a75f4375e7385b394;
        if (i == 16) return 0x07a4be8ffb38842055eca6e81a63601cb38320065b3c661613fba9e52a873284;
        if (i == 17) return 0x0327c4e6f08b06a8d3867ea74030c584f4a575d4765aecfb477d2a783c58778e;
        if (i == 18) return 0x112bf7fee24dd0d00a98e39cd3c9a995614451eb0f1b21c50864344a6961f207;
        if (i == 19) return 0x10d6ca7b6d9e68efa4f48e0c7c877f7a3475b79c4b6e29891ed24e365faf5171;
        if (i == 20) return 0x0ee526a9f281eaba70974115abcd1067a8847aedca01293f916f175db5958e97;
        revert("level out of range");
    }

    function hashLeftRight(uint256 left, uint256 right) public view returns (uint256) {
        return hasher.poseidon([left, right]);
    }

    function _insert(uint256 leaf) internal returns (uint32 index) {
        index = nextIndex;
        if (index == uint32(1) << LEVELS) revert TreeFull();
        uint256 node = leaf;
        uint32 i = index;
        for (uint256 level = 0; level < LEVELS; level++) {
            if ((i & 1) == 0) {
                filledSubtrees[level] = node;
                node = hasher.poseidon([node, zeros(level)]);
            } else {
                node = hasher.poseidon([filledSubtrees[level], node]);
            }
            i >>= 1;
        }
        uint32 next = (currentRootIndex + 1) % ROOT_HISTORY_SIZE;
        roots[next] = node;
        currentRootIndex = next;
        nextIndex = index + 1;
    }

    function _pay(address payable to, uint256 amount) internal {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PaymentFailed(to);
    }

    receive() external payable {
        revert NotPayable();
    }
}
