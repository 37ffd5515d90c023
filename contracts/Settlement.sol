// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title SnowRail treasury: pays out what the executor has authorised, each intent at most once.
/// @notice The contract holds the funds. An off-chain `executor` key signs EIP-712 authorisations and is
///         the only account that may submit them, so nobody can replay the calldata of a payment that
///         failed (and the executor's own failed transaction used up its nonce). Every authorisation
///         carries the executor epoch, which `setExecutor` increments: rotating the executor kills every
///         signature made before, even if the same key is set again later. The owner (a separate key,
///         set in the constructor, transferred in two steps) manages the executor, the mixer pools and
///         sweeps; the executor can never be the owner. `token == address(0)` is the native coin.
///         A single `execute` reverts with a custom error when it cannot pay; `executeBatch` pays what it
///         can and reports each refused item in a `PaymentFailed` event whose `reason` is the ABI encoding
///         of the error `execute` would have reverted with, so one decoder reads both.
///         Executor allowance: the owner may cap, per token, what the executor can pay out in a period
///         (`setExecutorAllowance`), so a stolen executor key can spend at most that. A token with NO
///         allowance set has NO on-chain cap: the executor may pay out the whole treasury in it.
contract Settlement is Ownable2Step, EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Payment {
        bytes32 intentHash;
        address token;
        address recipient;
        uint256 amount;
    }

    bytes32 public constant PAYMENT_TYPEHASH =
        keccak256("Payment(bytes32 intentHash,address token,address recipient,uint256 amount)");
    bytes32 public constant EXECUTE_TYPEHASH = keccak256(
        "Execute(Payment payment,uint256 epoch,uint256 deadline)Payment(bytes32 intentHash,address token,address recipient,uint256 amount)"
    );
    bytes32 public constant EXECUTE_BATCH_TYPEHASH = keccak256(
        "ExecuteBatch(Payment[] payments,uint256 epoch,uint256 deadline)Payment(bytes32 intentHash,address token,address recipient,uint256 amount)"
    );
    bytes32 public constant MIXER_DEPOSIT_TYPEHASH = keccak256(
        "MixerDeposit(Payment payment,uint256 commitment,uint256 epoch,uint256 deadline)Payment(bytes32 intentHash,address token,address recipient,uint256 amount)"
    );

    /// @notice Gas forwarded with a native payout: enough for a smart wallet's receive(), too little for a
    ///         griefing recipient to drain a batch.
    uint256 public constant NATIVE_TRANSFER_GAS = 30_000;

    address public executor;
    /// @notice Signed into every authorisation; `setExecutor` increments it, so no signature outlives a rotation.
    uint256 public executorEpoch;
    mapping(bytes32 intentHash => bool) public executed;
    /// @notice Privacy pools the treasury may deposit into (each a Mixer of the native coin), set by the owner.
    mapping(address pool => bool) public mixerPools;

    /// @dev Per-token cap on what the executor pays out (execute, executeBatch items, executeMixerDeposit).
    ///      Fixed windows: a window starts when the allowance is set and lasts `period` seconds; when
    ///      block.timestamp >= windowStart + period the next window (aligned to the first) starts with nothing
    ///      spent. `period == 0` means unset: no cap. One slot holds amount/period/windowStart.
    struct Allowance {
        uint128 amount;
        uint64 period;
        uint64 windowStart;
        uint256 spent;
    }

    mapping(address token => Allowance) private _allowances;

    event PaymentExecuted(bytes32 indexed intentHash, address indexed token, address indexed recipient, uint256 amount);
    event PaymentFailed(
        bytes32 indexed intentHash, address indexed token, address indexed recipient, uint256 amount, bytes reason
    );
    event PaymentSkipped(bytes32 indexed intentHash);
    /// @notice Someone sent funds to the treasury mentioning `intentHash`. Anyone may emit it for any hash, and
    ///         for an arbitrary token contract `token` and `amount` say only what that contract's own
    ///         `balanceOf` reported: it is NOT proof that anything was paid or is held. Check the treasury's
    ///         balance of a token you trust instead.
    event IntentFunded(bytes32 indexed intentHash, address indexed from, address indexed token, uint256 amount);
    event ExecutorChanged(address indexed previousExecutor, address indexed newExecutor);
    event Swept(address indexed token, address indexed to, uint256 amount);
    event MixerPoolSet(address indexed pool, bool allowed);
    /// @notice The owner set the executor's allowance of `token` (address(0): the native coin); a window
    ///         with nothing spent starts at `windowStart`. period 0 (clearExecutorAllowance): no cap.
    event ExecutorAllowanceSet(address indexed token, uint256 amount, uint256 period, uint256 windowStart);

    error IntentAlreadyExecuted(bytes32 intentHash);
    error AuthorizationExpired(uint256 deadline);
    error InvalidSignature();
    error InsufficientBalance(address token, uint256 available, uint256 required);
    error TransferFailed(bytes32 intentHash);
    error ZeroAmount();
    error ZeroRecipient();
    error ZeroExecutor();
    error NotAMixerPool(address token, address pool);
    error NotExecutor();
    error ExecutorIsOwner();
    error NothingReceived(address token);
    /// @notice Paying `required` of `token` would take the executor past its allowance: `remaining` is left in
    ///         this window, which ends (and the allowance refills) at `refillsAt` (a unix time).
    error ExecutorAllowanceExceeded(address token, uint256 remaining, uint256 required, uint256 refillsAt);
    error InvalidAllowance(uint256 amount, uint256 period);

    constructor(address initialOwner, address initialExecutor)
        Ownable(initialOwner)
        EIP712("SnowRail Settlement", "1")
    {
        if (initialExecutor == address(0)) revert ZeroExecutor();
        if (initialExecutor == initialOwner) revert ExecutorIsOwner();
        executor = initialExecutor;
        emit ExecutorChanged(address(0), initialExecutor);
    }

    /// @notice Plain deposits into the treasury.
    receive() external payable {}

    /// @dev Only the executor submits authorisations: a signature is worthless to anyone who copies it.
    modifier onlyExecutor() {
        if (msg.sender != executor) revert NotExecutor();
        _;
    }

    // ------------------------------------------------------------------ payouts

    function execute(Payment calldata payment, uint256 deadline, bytes calldata signature)
        external
        onlyExecutor
        nonReentrant
    {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        _requireExecutorSignature(
            keccak256(abi.encode(EXECUTE_TYPEHASH, _hashPayment(payment), executorEpoch, deadline)), signature
        );
        bytes32 intentHash = payment.intentHash;
        if (executed[intentHash]) revert IntentAlreadyExecuted(intentHash);
        address token = payment.token;
        address recipient = payment.recipient;
        uint256 amount = payment.amount;
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0)) revert ZeroRecipient();
        uint256 available = token == address(0) ? address(this).balance : _tokenBalance(token);
        if (available < amount) revert InsufficientBalance(token, available, amount);
        _spendAllowanceOrRevert(token, amount);
        executed[intentHash] = true;
        if (!_transfer(token, recipient, amount)) revert TransferFailed(intentHash);
        emit PaymentExecuted(intentHash, token, recipient, amount);
    }

    /// @notice Pays every payment it can under one executor signature. A refused item emits PaymentFailed
    ///         (or PaymentSkipped when already executed), keeps its funds in the treasury and stays unexecuted
    ///         so a later authorisation can retry it.
    function executeBatch(Payment[] calldata payments, uint256 deadline, bytes calldata signature)
        external
        onlyExecutor
        nonReentrant
    {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        _requireExecutorSignature(
            keccak256(abi.encode(EXECUTE_BATCH_TYPEHASH, _hashPayments(payments), executorEpoch, deadline)), signature
        );
        // One-entry cache of an ERC-20 balance: batches are usually of a single token, and balanceOf is an
        // external call. It is refreshed whenever it looks too small, so it can only skip a read, never
        // refuse a payment the treasury could make.
        address cachedToken;
        uint256 cachedBalance;
        uint256 n = payments.length;
        for (uint256 i; i < n;) {
            Payment calldata p = payments[i];
            bytes32 intentHash = p.intentHash;
            if (executed[intentHash]) {
                emit PaymentSkipped(intentHash);
            } else {
                address token = p.token;
                address recipient = p.recipient;
                uint256 amount = p.amount;
                bytes memory reason;
                if (amount == 0) {
                    reason = abi.encodeWithSelector(ZeroAmount.selector);
                } else if (recipient == address(0)) {
                    reason = abi.encodeWithSelector(ZeroRecipient.selector);
                } else {
                    uint256 available;
                    if (token == address(0)) {
                        available = address(this).balance;
                    } else {
                        if (token != cachedToken || cachedBalance < amount) {
                            cachedToken = token;
                            cachedBalance = _tokenBalance(token);
                        }
                        available = cachedBalance;
                    }
                    if (available < amount) {
                        reason = abi.encodeWithSelector(InsufficientBalance.selector, token, available, amount);
                    } else {
                        (bool allowed, uint256 remaining, uint256 refillsAt) = _spendAllowance(token, amount);
                        if (!allowed) {
                            reason = abi.encodeWithSelector(
                                ExecutorAllowanceExceeded.selector, token, remaining, amount, refillsAt
                            );
                        } else {
                            executed[intentHash] = true;
                            if (_transfer(token, recipient, amount)) {
                                if (token != address(0)) {
                                    unchecked {
                                        cachedBalance -= amount;
                                    }
                                }
                            } else {
                                executed[intentHash] = false;
                                cachedToken = address(0);
                                _refundAllowance(token, amount);
                                reason = abi.encodeWithSelector(TransferFailed.selector, intentHash);
                            }
                        }
                    }
                }
                if (reason.length == 0) {
                    emit PaymentExecuted(intentHash, token, recipient, amount);
                } else {
                    emit PaymentFailed(intentHash, token, recipient, amount, reason);
                }
            }
            unchecked {
                ++i;
            }
        }
    }

    /// @notice Deposits `commitment` into an allow-listed mixer pool (`payment.recipient`) with `payment.amount`
    ///         of the treasury's native coin, at most once per intent. The executor signs the commitment too,
    ///         so nobody can spend the authorisation on a note of their own. The payout and the deposit
    ///         happen in one transaction or not at all; a refusal by the pool reverts with the pool's error.
    function executeMixerDeposit(Payment calldata payment, uint256 commitment, uint256 deadline, bytes calldata signature)
        external
        onlyExecutor
        nonReentrant
    {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        _requireExecutorSignature(
            keccak256(abi.encode(MIXER_DEPOSIT_TYPEHASH, _hashPayment(payment), commitment, executorEpoch, deadline)),
            signature
        );
        bytes32 intentHash = payment.intentHash;
        if (executed[intentHash]) revert IntentAlreadyExecuted(intentHash);
        address pool = payment.recipient;
        uint256 amount = payment.amount;
        if (payment.token != address(0) || !mixerPools[pool]) revert NotAMixerPool(payment.token, pool);
        if (amount == 0) revert ZeroAmount();
        uint256 available = address(this).balance;
        if (available < amount) revert InsufficientBalance(address(0), available, amount);
        _spendAllowanceOrRevert(address(0), amount);
        executed[intentHash] = true;
        (bool ok, bytes memory reason) = pool.call{value: amount}(abi.encodeWithSignature("deposit(uint256)", commitment));
        if (!ok) {
            // An allow-listed pool's own error (WrongValue, CommitmentExists, ...), so callers can read it.
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        emit PaymentExecuted(intentHash, address(0), pool, amount);
    }

    // ------------------------------------------------------------------ funding

    function fund(bytes32 intentHash) external payable {
        if (msg.value == 0) revert ZeroAmount();
        emit IntentFunded(intentHash, msg.sender, address(0), msg.value);
    }

    /// @notice Pulls `amount` of `token` from the caller (who approved this contract first). The event carries
    ///         what the treasury's balance grew by (less than `amount` for a fee-on-transfer token), not what
    ///         was asked; a token whose balance did not grow is refused. For a token you do not trust this
    ///         is still only that token's word: see IntentFunded.
    function fundToken(bytes32 intentHash, address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = _tokenBalance(token);
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 held = _tokenBalance(token);
        if (held <= before) revert NothingReceived(token);
        emit IntentFunded(intentHash, msg.sender, token, held - before);
    }

    // ------------------------------------------------------------------ owner

    /// @notice Sets the executor and starts a new epoch: every authorisation signed before is void, even if
    ///         `newExecutor` is the current or an earlier executor (so this is also how to revoke them all).
    function setExecutor(address newExecutor) external onlyOwner {
        if (newExecutor == address(0)) revert ZeroExecutor();
        if (newExecutor == owner()) revert ExecutorIsOwner();
        emit ExecutorChanged(executor, newExecutor);
        executor = newExecutor;
        unchecked {
            ++executorEpoch;
        }
    }

    /// @notice Caps what the executor may pay out of `token` (address(0): the native coin) to `amount` base
    ///         units per `period` seconds, across execute, executeBatch and executeMixerDeposit. Fixed windows:
    ///         the first starts now with nothing spent (so setting it again also resets what was spent), each
    ///         next one `period` later. An execution beyond it reverts with ExecutorAllowanceExceeded (a batch
    ///         item is reported in PaymentFailed and stays unexecuted). `amount` 0 stops the executor paying
    ///         this token at all. A token never set (or cleared) has NO cap.
    function setExecutorAllowance(address token, uint256 amount, uint256 period) external onlyOwner {
        if (period == 0 || period > type(uint64).max || amount > type(uint128).max) {
            revert InvalidAllowance(amount, period);
        }
        _allowances[token] = Allowance(uint128(amount), uint64(period), uint64(block.timestamp), 0);
        emit ExecutorAllowanceSet(token, amount, period, block.timestamp);
    }

    /// @notice Removes the cap on `token`: the executor may then pay out all of it (no on-chain cap).
    function clearExecutorAllowance(address token) external onlyOwner {
        delete _allowances[token];
        emit ExecutorAllowanceSet(token, 0, 0, block.timestamp);
    }

    function setMixerPool(address pool, bool allowed) external onlyOwner {
        if (pool == address(0)) revert ZeroRecipient();
        mixerPools[pool] = allowed;
        emit MixerPoolSet(pool, allowed);
    }

    function sweep(address token, address to, uint256 amount) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroRecipient();
        if (amount == 0) revert ZeroAmount();
        if (token == address(0)) {
            uint256 available = address(this).balance;
            if (available < amount) revert InsufficientBalance(token, available, amount);
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed(bytes32(0));
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
        emit Swept(token, to, amount);
    }

    /// @notice Starts a two-step transfer; `newOwner` must call `acceptOwnership`. Never to the executor.
    function transferOwnership(address newOwner) public override onlyOwner {
        if (newOwner == executor) revert ExecutorIsOwner();
        super.transferOwnership(newOwner);
    }

    /// @dev Ownership never lands on the executor (directly, or by accepting a transfer started before
    ///      that address became executor): the executor key can only execute.
    function _transferOwnership(address newOwner) internal override {
        if (newOwner != address(0) && newOwner == executor) revert ExecutorIsOwner();
        super._transferOwnership(newOwner);
    }

    // ------------------------------------------------------------------ views

    /// @notice The executor's allowance of `token` as of now: `period == 0` means NO cap is set (then the
    ///         other values are 0). Otherwise `spent` of `amount` is used in the window that started at
    ///         `windowStart` and refills at `windowStart + period`.
    function executorAllowance(address token)
        external
        view
        returns (uint256 amount, uint256 period, uint256 spent, uint256 windowStart)
    {
        Allowance storage a = _allowances[token];
        period = a.period;
        if (period == 0) return (0, 0, 0, 0);
        amount = a.amount;
        windowStart = a.windowStart;
        spent = a.spent;
        if (block.timestamp >= windowStart + period) {
            windowStart += ((block.timestamp - windowStart) / period) * period;
            spent = 0;
        }
    }

    /// @notice What the executor may still pay out of `token` in this window, and when it refills (a unix
    ///         time). No cap set: (type(uint256).max, 0).
    function remainingAllowance(address token) external view returns (uint256 remaining, uint256 refillsAt) {
        Allowance storage a = _allowances[token];
        uint256 period = a.period;
        if (period == 0) return (type(uint256).max, 0);
        uint256 start = a.windowStart;
        uint256 spent = a.spent;
        if (block.timestamp >= start + period) {
            start += ((block.timestamp - start) / period) * period;
            spent = 0;
        }
        uint256 cap = a.amount;
        remaining = spent >= cap ? 0 : cap - spent;
        refillsAt = start + period;
    }

    /// @notice The EIP-712 digest the executor signs for `execute` now (in the current epoch).
    function executeDigest(Payment calldata payment, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(EXECUTE_TYPEHASH, _hashPayment(payment), executorEpoch, deadline))
        );
    }

    /// @notice The EIP-712 digest the executor signs for `executeBatch` now.
    function executeBatchDigest(Payment[] calldata payments, uint256 deadline) external view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(EXECUTE_BATCH_TYPEHASH, _hashPayments(payments), executorEpoch, deadline))
        );
    }

    // ------------------------------------------------------------------ internals

    /// @dev Counts `amount` against the executor's allowance of `token`; (false, remaining, refillsAt) and
    ///      nothing counted when it does not fit. No cap set: always (true, 0, 0).
    function _spendAllowance(address token, uint256 amount)
        private
        returns (bool ok, uint256 remaining, uint256 refillsAt)
    {
        Allowance storage a = _allowances[token];
        uint256 period = a.period;
        if (period == 0) return (true, 0, 0);
        uint256 start = a.windowStart;
        uint256 spent = a.spent;
        bool rolled = block.timestamp >= start + period;
        if (rolled) {
            start += ((block.timestamp - start) / period) * period;
            spent = 0;
        }
        uint256 cap = a.amount;
        remaining = spent >= cap ? 0 : cap - spent;
        refillsAt = start + period;
        if (amount > remaining) return (false, remaining, refillsAt); // nothing written: the view agrees
        if (rolled) a.windowStart = uint64(start);
        a.spent = spent + amount;
        unchecked {
            remaining -= amount;
        }
        ok = true;
    }

    function _spendAllowanceOrRevert(address token, uint256 amount) private {
        (bool ok, uint256 remaining, uint256 refillsAt) = _spendAllowance(token, amount);
        if (!ok) revert ExecutorAllowanceExceeded(token, remaining, amount, refillsAt);
    }

    /// @dev Gives back what a batch item counted before its transfer failed (same block, so same window).
    function _refundAllowance(address token, uint256 amount) private {
        Allowance storage a = _allowances[token];
        if (a.period != 0) a.spent -= amount;
    }

    function _requireExecutorSignature(bytes32 structHash, bytes calldata signature) private view {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(_hashTypedDataV4(structHash), signature);
        if (err != ECDSA.RecoverError.NoError || signer != executor) revert InvalidSignature();
    }

    function _hashPayment(Payment calldata payment) private pure returns (bytes32) {
        return keccak256(
            abi.encode(PAYMENT_TYPEHASH, payment.intentHash, payment.token, payment.recipient, payment.amount)
        );
    }

    /// @dev EIP-712 hash of a Payment[]: keccak of the concatenated struct hashes. Payment is a static
    ///      128-byte struct, so calldata holds the array contiguously and each item is hashed in place.
    function _hashPayments(Payment[] calldata payments) private pure returns (bytes32 result) {
        bytes32 typehash = PAYMENT_TYPEHASH;
        assembly ("memory-safe") {
            let n := payments.length
            let hashes := mload(0x40)
            let item := add(hashes, shl(5, n))
            mstore(item, typehash)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                calldatacopy(add(item, 0x20), add(payments.offset, shl(7, i)), 0x80)
                mstore(add(hashes, shl(5, i)), keccak256(item, 0xa0))
            }
            result := keccak256(hashes, shl(5, n))
        }
    }

    /// @dev Our balance of `token`, or 0 if the call fails or returns garbage.
    function _tokenBalance(address token) private view returns (uint256 held) {
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, address())
            let ok := staticcall(gas(), token, 0x1c, 0x24, 0x00, 0x20)
            held := mul(mload(0x00), and(ok, gt(returndatasize(), 0x1f)))
        }
    }

    /// @dev Native coin with bounded gas, or ERC-20 `transfer` tolerating tokens that return nothing.
    ///      Return data is never copied in full, so a recipient cannot make us pay for a huge revert.
    function _transfer(address token, address to, uint256 amount) private returns (bool ok) {
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(NATIVE_TRANSFER_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            assembly ("memory-safe") {
                let fmp := mload(0x40)
                mstore(0x00, 0xa9059cbb) // transfer(address,uint256)
                mstore(0x20, to)
                mstore(0x40, amount)
                ok := call(gas(), token, 0, 0x1c, 0x44, 0x00, 0x20)
                switch returndatasize()
                case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
                default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
                mstore(0x40, fmp)
            }
        }
    }
}
