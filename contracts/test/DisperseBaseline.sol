// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title The gas floor a bulk payout is measured against: a bare loop of transfers in the shape of Disperse's
///        `disperseEther` / `disperseToken`, with no authorisation, no once-only flag and no bookkeeping.
///        Benchmarks and tests only; never deploy it to a real network (anyone may spend what it holds).
contract DisperseBaseline {
    /// @notice Sends `values[i]` of the attached native coin to `recipients[i]`; the rest goes back to the caller.
    function disperseEther(address[] calldata recipients, uint256[] calldata values) external payable {
        for (uint256 i = 0; i < recipients.length; i++) {
            payable(recipients[i]).transfer(values[i]);
        }
        uint256 left = address(this).balance;
        if (left > 0) payable(msg.sender).transfer(left);
    }

    /// @notice Sends `values[i]` of `token` held by this contract to `recipients[i]`.
    function disperseToken(IERC20 token, address[] calldata recipients, uint256[] calldata values) external {
        for (uint256 i = 0; i < recipients.length; i++) {
            require(token.transfer(recipients[i], values[i]));
        }
    }
}
