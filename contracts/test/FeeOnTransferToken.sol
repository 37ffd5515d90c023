// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

/// @title An ERC-20 for tests that keeps 1% of every transferFrom (fee-on-transfer), or in `lying` mode
///        reports success and moves nothing, the ways a token can misreport what was paid.
contract FeeOnTransferToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    bool public lying;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function setLying(bool value) external {
        lying = value;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        if (lying) return true;
        allowance[from][msg.sender] -= amount;
        balanceOf[from] -= amount;
        uint256 fee = amount / 100;
        balanceOf[to] += amount - fee;
        return true;
    }
}
