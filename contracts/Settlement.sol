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
///         A single `execute` reverts with a custom error when it cannot pay; `executeBatch` pays the bulk
///         rows it can, each row id at most once (a bitmap, 256 rows per storage word), and reports each
///         refused row in a `RowFailed` event whose `reason` is the ABI encoding of the error `execute` would
///         have reverted with, so one decoder reads both.
///         Executor allowance: the owner may cap, per token, what the executor can pay out in a period
///         (`setExecutorAllowance`), so a stolen executor key can spend at most that. A token with NO
///         allowance set has NO on-chain cap: the executor may pay out the whole treasury in it.
///         Escrow: members fund payment intents from their own wallets (`fundIntent`, `fundIntentToken`). The
///         contract holds that money per intent hash, which binds the terms (token, recipient, amount, expiry,
///         salt, chain and contract), so it can only ever go to that recipient (`release`, executor-signed) or
///         back to its funder (`refund`, executor-signed; or `refundExpired`, by anyone once expired, with no
///         bot involved). Escrowed money is not treasury money: `escrowed[token]` is kept apart from every
///         payout, sweep and balance check. The executor allowance does NOT apply to releases and refunds:
///         they pay out escrow the funder put in for exactly that, never the treasury.
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
        "ExecuteBatch(address[] tokens,uint256[] rows,uint256[] amounts,uint256 epoch,uint256 deadline)"
    );
    bytes32 public constant MIXER_DEPOSIT_TYPEHASH = keccak256(
        "MixerDeposit(Payment payment,uint256 commitment,uint256 epoch,uint256 deadline)Payment(bytes32 intentHash,address token,address recipient,uint256 amount)"
    );
    bytes32 public constant RELEASE_TYPEHASH = keccak256("Release(bytes32 intentHash,uint256 epoch,uint256 deadline)");
    bytes32 public constant REFUND_TYPEHASH = keccak256("Refund(bytes32 intentHash,uint256 epoch,uint256 deadline)");

    /// @notice Gas forwarded with a native payout: enough for a smart wallet's receive(), too little for a
    ///         griefing recipient to drain a batch.
    uint256 public constant NATIVE_TRANSFER_GAS = 30_000;

    address public executor;
    /// @notice Signed into every authorisation; `setExecutor` increments it, so no signature outlives a rotation.
    uint256 public executorEpoch;
    mapping(bytes32 intentHash => bool) public executed;
    /// @notice Bulk rows paid by executeBatch: bit `row & 255` of `paidRows[row >> 8]`. A whole word costs one
    ///         zero-to-nonzero write for 256 rows, where one flag per row cost 22,100 gas each.
    mapping(uint256 word => uint256 bits) public paidRows;
    uint256 private constant ROW_ID_MASK = (1 << 88) - 1;
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

    enum EscrowStatus {
        None,
        Open,
        Released,
        Refunded
    }

    /// @dev One funded intent. `funded` is what it holds while open, and what it held when it closed.
    struct Escrow {
        address funder;
        uint64 expiry;
        EscrowStatus status;
        address token;
        address recipient;
        uint256 amount;
        uint256 funded;
    }

    mapping(bytes32 intentHash => Escrow) private _escrows;
    /// @notice What the open intents hold of each token (address(0): the native coin): never treasury funds.
    mapping(address token => uint256) public escrowed;

    /// @dev One token of an executeBatch in memory: the treasury's balance as last read (ERC-20 only), what
    ///      escrow holds of it, and its allowance window, so each row costs no storage access; `used` is
    ///      written back once at the end.
    struct TokenState {
        uint256 available;
        uint256 escrowed;
        bool capped;
        bool rolled;
        uint256 windowStart;
        uint256 spent;
        uint256 remaining;
        uint256 refillsAt;
        uint256 used;
    }

    event PaymentExecuted(bytes32 indexed intentHash, address indexed token, address indexed recipient, uint256 amount);
    /// @notice executeBatch paid the rows whose bits are set in `bits` (row id = word << 8 | bit).
    event RowsPaid(uint256 indexed word, uint256 bits);
    /// @notice executeBatch refused row `row`; `reason` is the ABI-encoded error `execute` would revert with.
    event RowFailed(uint256 indexed row, address token, address recipient, uint256 amount, bytes reason);
    /// @notice executeBatch found row `row` already paid and left it alone.
    event RowSkipped(uint256 indexed row);
    /// @notice `funder` put `value` of `token` into the escrow of `intentHash`, which now holds `funded`. Emitted
    ///         only after the contract's balance grew by exactly `value` (a fee-on-transfer or lying token is
    ///         refused); which token and terms it is for is bound by the hash. A token contract is still only
    ///         as good as its code: the terms name it, and a fake token pays out fake tokens.
    event IntentFunded(
        bytes32 indexed intentHash, address indexed funder, address indexed token, uint256 value, uint256 funded
    );
    /// @notice The escrow of `intentHash` paid `recipient` its `amount`, and the funder the `surplus`.
    event IntentReleased(bytes32 indexed intentHash, address recipient, uint256 amount, uint256 surplus);
    /// @notice The escrow of `intentHash` went back to `funder`: all `amount` it held.
    event IntentRefunded(bytes32 indexed intentHash, address funder, uint256 amount);
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
    /// @notice The token moved a different amount than asked (a fee-on-transfer, rebasing or lying token).
    error FeeOnTransferRefused(address token);
    error ZeroToken();
    error ExpiryNotInFuture(uint64 expiry);
    /// @notice Only the first funder of an intent may top it up.
    error NotFunder(bytes32 intentHash, address funder);
    /// @notice The intent is not open: never funded, or already released or refunded.
    error IntentNotOpen(bytes32 intentHash);
    error IntentUnderfunded(bytes32 intentHash, uint256 funded, uint256 amount);
    /// @notice From `expiry` on an intent can only go back to its funder.
    error IntentExpired(bytes32 intentHash, uint64 expiry);
    error IntentNotExpired(bytes32 intentHash, uint64 expiry);
    /// @notice Paying `required` of `token` would take the executor past its allowance: `remaining` is left in
    ///         this window, which ends (and the allowance refills) at `refillsAt` (a unix time).
    error ExecutorAllowanceExceeded(address token, uint256 remaining, uint256 required, uint256 refillsAt);
    error InvalidAllowance(uint256 amount, uint256 period);
    /// @notice executeBatch's arrays disagree in length, or a token is listed twice.
    error BadBatch();

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
        uint256 available = _treasuryBalance(token);
        if (available < amount) revert InsufficientBalance(token, available, amount);
        _spendAllowanceOrRevert(token, amount);
        executed[intentHash] = true;
        if (!_transfer(token, recipient, amount)) revert TransferFailed(intentHash);
        emit PaymentExecuted(intentHash, token, recipient, amount);
    }

    /// @notice Pays every bulk row it can under one executor signature. `rows[i]` packs the row's recipient
    ///         (bits 0-159), its row id (bits 160-247) and the index of its token in `tokens` (bits 248-255);
    ///         `amounts[i]` is what it pays. Each row id is paid at most once, ever: `paidRows` keeps one bit per
    ///         row id, 256 to a storage word (row id = word << 8 | bit), set only when the transfer succeeded.
    ///         The off-chain ledger hands out row ids from a counter, never twice. Paid rows are announced per
    ///         storage word (`RowsPaid`, a bitmap of the rows this call paid); a refused row emits `RowFailed`
    ///         whose `reason` is the ABI encoding of the error `execute` would have reverted with, and a row
    ///         already paid emits `RowSkipped`. Both keep their funds in the treasury, and a refused row stays
    ///         unpaid so a later authorisation can retry it. The executor allowance is enforced row by row
    ///         against a running total kept in memory and written once per token at the end.
    function executeBatch(
        address[] calldata tokens,
        uint256[] calldata rows,
        uint256[] calldata amounts,
        uint256 deadline,
        bytes calldata signature
    ) external onlyExecutor nonReentrant {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        if (amounts.length != rows.length) revert BadBatch();
        _requireExecutorSignature(_batchStructHash(tokens, rows, amounts, deadline), signature);
        _executeRows(tokens, rows, amounts);
    }

    /// @dev executeBatch's loop. Rows sorted by id touch each bitmap word once; in any order a word is written
    ///      back before another is read, so a row listed twice is seen as paid the second time.
    function _executeRows(address[] calldata tokens, uint256[] calldata rows, uint256[] calldata amounts) private {
        TokenState[] memory states = _loadTokenStates(tokens);
        uint256 word = type(uint256).max; // row ids have 88 bits, so no row lives in this word
        uint256 bits; // paidRows[word] as it stands, with this call's payments
        uint256 fresh; // the bits of `word` this call paid
        for (uint256 i; i < rows.length;) {
            uint256 row = (rows[i] >> 160) & ROW_ID_MASK;
            if (row >> 8 != word) {
                if (fresh != 0) _flushRows(word, bits, fresh);
                word = row >> 8;
                bits = paidRows[word];
                fresh = 0;
            }
            if (bits & (1 << (row & 0xff)) != 0) {
                emit RowSkipped(row);
            } else if (_settleRow(states, tokens, rows[i], amounts[i])) {
                bits |= 1 << (row & 0xff);
                fresh |= 1 << (row & 0xff);
            }
            unchecked {
                ++i;
            }
        }
        if (fresh != 0) _flushRows(word, bits, fresh);
        _storeTokenStates(tokens, states);
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
        uint256 available = _treasuryBalance(address(0));
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

    // ------------------------------------------------------------------ escrow

    /// @notice Funds (or tops up) the intent of these terms with the native coin sent. The first funding
    ///         records the sender as its funder; later ones must come from that funder while it is open.
    ///         More than `amount` is accepted: the surplus goes back to the funder on release.
    function fundIntent(address recipient, uint256 amount, uint64 expiry, bytes32 salt) external payable nonReentrant {
        bytes32 intentHash = intentHashOf(address(0), recipient, amount, expiry, salt);
        uint256 funded = _recordFunding(intentHash, address(0), recipient, amount, expiry, msg.value);
        emit IntentFunded(intentHash, msg.sender, address(0), msg.value, funded);
    }

    /// @notice Funds (or tops up) the intent of these terms with `value` of `token`, pulled from the caller (who
    ///         approved this contract first). The contract's balance must grow by exactly `value`, so a
    ///         fee-on-transfer token (or one that claims a transfer it did not make) is refused.
    function fundIntentToken(
        address token,
        address recipient,
        uint256 amount,
        uint64 expiry,
        bytes32 salt,
        uint256 value
    ) external nonReentrant {
        if (token == address(0)) revert ZeroToken();
        bytes32 intentHash = intentHashOf(token, recipient, amount, expiry, salt);
        uint256 before = _tokenBalance(token);
        uint256 funded = _recordFunding(intentHash, token, recipient, amount, expiry, value);
        // Effects are recorded first; the check after the pull reverts them all if the token misbehaved.
        IERC20(token).safeTransferFrom(msg.sender, address(this), value);
        if (_tokenBalance(token) != before + value) revert FeeOnTransferRefused(token);
        emit IntentFunded(intentHash, msg.sender, token, value, funded);
    }

    /// @notice Pays an open, fully funded, unexpired intent: `amount` to its recipient, any surplus back to its
    ///         funder; at most once. Executor-signed `Release(intentHash, epoch, deadline)`. A recipient that
    ///         refuses the payment (a contract that reverts) makes this revert: the funds stay in escrow, and
    ///         the funder gets them back with `refund` or, after the expiry, `refundExpired`.
    function release(bytes32 intentHash, uint256 deadline, bytes calldata signature) external onlyExecutor nonReentrant {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        _requireExecutorSignature(keccak256(abi.encode(RELEASE_TYPEHASH, intentHash, executorEpoch, deadline)), signature);
        Escrow storage e = _openEscrow(intentHash);
        if (block.timestamp >= e.expiry) revert IntentExpired(intentHash, e.expiry);
        uint256 funded = e.funded;
        uint256 amount = e.amount;
        if (funded < amount) revert IntentUnderfunded(intentHash, funded, amount);
        address token = e.token;
        address recipient = e.recipient;
        e.status = EscrowStatus.Released;
        escrowed[token] -= funded;
        uint256 surplus = funded - amount;
        if (!_transfer(token, recipient, amount)) revert TransferFailed(intentHash);
        if (surplus != 0 && !_transfer(token, e.funder, surplus)) revert TransferFailed(intentHash);
        emit IntentReleased(intentHash, recipient, amount, surplus);
    }

    /// @notice Gives an open intent's funds back to its funder (a cancel), at any time; at most once.
    ///         Executor-signed `Refund(intentHash, epoch, deadline)`.
    function refund(bytes32 intentHash, uint256 deadline, bytes calldata signature) external onlyExecutor nonReentrant {
        if (block.timestamp > deadline) revert AuthorizationExpired(deadline);
        _requireExecutorSignature(keccak256(abi.encode(REFUND_TYPEHASH, intentHash, executorEpoch, deadline)), signature);
        _refund(intentHash, _openEscrow(intentHash));
    }

    /// @notice From its expiry on, anyone may send an open intent's funds back to its funder: no signature and
    ///         no bot needed, so escrowed funds are never stranded. (Native refunds carry the 30k gas stipend:
    ///         a funder that is a contract refusing payments can never be refunded. Fund from a wallet.)
    function refundExpired(bytes32 intentHash) external nonReentrant {
        Escrow storage e = _openEscrow(intentHash);
        if (block.timestamp < e.expiry) revert IntentNotExpired(intentHash, e.expiry);
        _refund(intentHash, e);
    }

    /// @notice The hash that binds an intent's terms to this contract on this chain (the escrow's key).
    function intentHashOf(address token, address recipient, uint256 amount, uint64 expiry, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), token, recipient, amount, expiry, salt));
    }

    /// @notice The escrow record of `intentHash`; status 0 none, 1 open, 2 released, 3 refunded.
    function escrowOf(bytes32 intentHash)
        external
        view
        returns (
            address funder,
            address token,
            address recipient,
            uint256 amount,
            uint64 expiry,
            uint256 funded,
            EscrowStatus status
        )
    {
        Escrow storage e = _escrows[intentHash];
        return (e.funder, e.token, e.recipient, e.amount, e.expiry, e.funded, e.status);
    }

    /// @dev Checks and records a funding of `value`; returns what the intent holds now.
    function _recordFunding(
        bytes32 intentHash,
        address token,
        address recipient,
        uint256 amount,
        uint64 expiry,
        uint256 value
    ) private returns (uint256 funded) {
        if (value == 0) revert ZeroAmount();
        Escrow storage e = _escrows[intentHash];
        EscrowStatus status = e.status;
        if (status == EscrowStatus.None) {
            if (amount == 0) revert ZeroAmount();
            if (recipient == address(0)) revert ZeroRecipient();
            if (expiry <= block.timestamp) revert ExpiryNotInFuture(expiry);
            e.funder = msg.sender;
            e.expiry = expiry;
            e.status = EscrowStatus.Open;
            e.token = token;
            e.recipient = recipient;
            e.amount = amount;
        } else {
            if (status != EscrowStatus.Open) revert IntentNotOpen(intentHash);
            if (msg.sender != e.funder) revert NotFunder(intentHash, e.funder);
            if (block.timestamp >= expiry) revert IntentExpired(intentHash, expiry);
        }
        funded = e.funded + value;
        e.funded = funded;
        escrowed[token] += value;
    }

    function _openEscrow(bytes32 intentHash) private view returns (Escrow storage e) {
        e = _escrows[intentHash];
        if (e.status != EscrowStatus.Open) revert IntentNotOpen(intentHash);
    }

    function _refund(bytes32 intentHash, Escrow storage e) private {
        uint256 funded = e.funded;
        address token = e.token;
        address funder = e.funder;
        e.status = EscrowStatus.Refunded;
        escrowed[token] -= funded;
        if (!_transfer(token, funder, funded)) revert TransferFailed(intentHash);
        emit IntentRefunded(intentHash, funder, funded);
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
    ///         row is reported in RowFailed and stays unpaid). `amount` 0 stops the executor paying
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
        uint256 available = _treasuryBalance(token); // escrowed funds are never the owner's to sweep
        if (available < amount) revert InsufficientBalance(token, available, amount);
        if (token == address(0)) {
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
    function executeBatchDigest(
        address[] calldata tokens,
        uint256[] calldata rows,
        uint256[] calldata amounts,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashTypedDataV4(_batchStructHash(tokens, rows, amounts, deadline));
    }

    /// @notice Whether executeBatch has paid bulk row `row`.
    function isRowPaid(uint256 row) external view returns (bool) {
        return paidRows[row >> 8] & (1 << (row & 0xff)) != 0;
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

    function _requireExecutorSignature(bytes32 structHash, bytes calldata signature) private view {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(_hashTypedDataV4(structHash), signature);
        if (err != ECDSA.RecoverError.NoError || signer != executor) revert InvalidSignature();
    }

    function _hashPayment(Payment calldata payment) private pure returns (bytes32) {
        return keccak256(
            abi.encode(PAYMENT_TYPEHASH, payment.intentHash, payment.token, payment.recipient, payment.amount)
        );
    }

    /// @dev EIP-712 struct hash of ExecuteBatch. An array of 32-byte atomic values is encoded as the keccak of its
    ///      elements, which is exactly its calldata, so each array is hashed where it lies (scratch memory, not
    ///      kept: the free memory pointer does not move).
    function _batchStructHash(
        address[] calldata tokens,
        uint256[] calldata rows,
        uint256[] calldata amounts,
        uint256 deadline
    ) private view returns (bytes32) {
        bytes32 tokensHash;
        bytes32 rowsHash;
        bytes32 amountsHash;
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, tokens.offset, shl(5, tokens.length))
            tokensHash := keccak256(p, shl(5, tokens.length))
            calldatacopy(p, rows.offset, shl(5, rows.length))
            rowsHash := keccak256(p, shl(5, rows.length))
            calldatacopy(p, amounts.offset, shl(5, amounts.length))
            amountsHash := keccak256(p, shl(5, amounts.length))
        }
        return keccak256(
            abi.encode(EXECUTE_BATCH_TYPEHASH, tokensHash, rowsHash, amountsHash, executorEpoch, deadline)
        );
    }

    /// @dev Pays one packed bulk row, or emits RowFailed with the reason; true when paid.
    function _settleRow(TokenState[] memory states, address[] calldata tokens, uint256 packed, uint256 amount)
        private
        returns (bool)
    {
        uint256 t = packed >> 248;
        address token = tokens[t];
        uint256 row = (packed >> 160) & ROW_ID_MASK;
        address recipient = address(uint160(packed & type(uint160).max));
        bytes memory reason = _payRow(states[t], token, row, recipient, amount);
        if (reason.length == 0) return true;
        emit RowFailed(row, token, recipient, amount, reason);
        return false;
    }

    /// @dev Pays one bulk row or says why not (the ABI-encoded error; empty when paid). Checks in the order
    ///      `execute` makes them, against `st` (this token's balance and allowance in memory).
    function _payRow(TokenState memory st, address token, uint256 row, address recipient, uint256 amount)
        private
        returns (bytes memory reason)
    {
        if (amount == 0) return abi.encodeWithSelector(ZeroAmount.selector);
        if (recipient == address(0)) return abi.encodeWithSelector(ZeroRecipient.selector);
        uint256 available;
        if (token == address(0)) {
            unchecked {
                available = address(this).balance - st.escrowed; // escrow is always part of the balance
            }
        } else {
            // A cached balance that looks too small is read again, so the cache never refuses a payable row.
            if (st.available < amount) st.available = _freeBalance(token, st.escrowed);
            available = st.available;
        }
        if (available < amount) {
            return abi.encodeWithSelector(InsufficientBalance.selector, token, available, amount);
        }
        if (st.capped && amount > st.remaining) {
            return abi.encodeWithSelector(
                ExecutorAllowanceExceeded.selector, token, st.remaining, amount, st.refillsAt
            );
        }
        if (!_transfer(token, recipient, amount)) {
            st.available = 0; // a token that refused may have moved anything: read its balance again
            return abi.encodeWithSelector(TransferFailed.selector, bytes32(row));
        }
        unchecked {
            if (token != address(0)) st.available -= amount; // available >= amount was checked above
            if (st.capped) {
                st.remaining -= amount;
                st.used += amount;
            }
        }
    }

    /// @dev Reads each token's allowance window once (rolled forward as `_spendAllowance` does) and its balance.
    function _loadTokenStates(address[] calldata tokens) private view returns (TokenState[] memory states) {
        uint256 k = tokens.length;
        states = new TokenState[](k);
        for (uint256 t; t < k; ++t) {
            address token = tokens[t];
            for (uint256 u; u < t; ++u) {
                if (tokens[u] == token) revert BadBatch(); // two states would each grant the whole allowance
            }
            TokenState memory st = states[t];
            st.escrowed = escrowed[token];
            if (token != address(0)) st.available = _freeBalance(token, st.escrowed);
            Allowance storage a = _allowances[token];
            uint256 period = a.period;
            if (period == 0) continue;
            uint256 start = a.windowStart;
            uint256 spent = a.spent;
            if (block.timestamp >= start + period) {
                start += ((block.timestamp - start) / period) * period;
                spent = 0;
                st.rolled = true;
            }
            uint256 cap = a.amount;
            st.capped = true;
            st.windowStart = start;
            st.spent = spent;
            st.remaining = spent >= cap ? 0 : cap - spent;
            st.refillsAt = start + period;
        }
    }

    /// @dev Writes back what the batch counted against each capped token's allowance (nothing if nothing).
    function _storeTokenStates(address[] calldata tokens, TokenState[] memory states) private {
        uint256 k = tokens.length;
        for (uint256 t; t < k; ++t) {
            TokenState memory st = states[t];
            if (st.used == 0) continue;
            Allowance storage a = _allowances[tokens[t]];
            if (st.rolled) a.windowStart = uint64(st.windowStart);
            a.spent = st.spent + st.used;
        }
    }

    function _flushRows(uint256 word, uint256 bits, uint256 fresh) private {
        paidRows[word] = bits;
        emit RowsPaid(word, fresh);
    }

    /// @dev What the treasury holds of `token`: the contract's balance less what open intents hold (0 if a
    ///      token's balance shrank below that on its own).
    function _treasuryBalance(address token) private view returns (uint256) {
        if (token == address(0)) {
            uint256 held = address(this).balance;
            uint256 locked = escrowed[token];
            return held > locked ? held - locked : 0;
        }
        return _freeBalance(token, escrowed[token]);
    }

    function _freeBalance(address token, uint256 locked) private view returns (uint256) {
        uint256 held = _tokenBalance(token);
        return held > locked ? held - locked : 0;
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
                mstore(0x20, and(to, 0xffffffffffffffffffffffffffffffffffffffff)) // a packed row's bits stay out
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
