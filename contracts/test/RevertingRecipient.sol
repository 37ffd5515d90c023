// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

/// @title Test recipients that refuse native payouts: one reverts, one burns every unit of gas it is given.
contract RevertingRecipient {
    error NoThanks();

    receive() external payable {
        revert NoThanks();
    }
}

contract GasBurningRecipient {
    uint256 public sink;

    receive() external payable {
        while (true) {
            unchecked {
                ++sink;
            }
        }
    }
}
