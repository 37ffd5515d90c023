// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

/// @title A hostile recipient for tests: it refuses payments only inside mined transactions (tx.gasprice > 0),
///        so an eth_call simulation without fee fields passes and the real transaction reverts. Anyone can
///        `open` it later, as its owner would once a failed payment's calldata is worth replaying. It also
///        acts as a mixer pool (`deposit(uint256)`) with the same behaviour.
contract SimulationDodger {
    error NotInMinedTransactions();

    bool public open;
    uint256 public deposits;
    uint256 public lastCommitment;

    function setOpen(bool value) external {
        open = value;
    }

    receive() external payable {
        _refuseIfMined();
    }

    function deposit(uint256 commitment) external payable {
        _refuseIfMined();
        ++deposits;
        lastCommitment = commitment;
    }

    function _refuseIfMined() private view {
        if (!open && tx.gasprice > 0) revert NotInMinedTransactions();
    }
}
