// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

/// @title A USDT-style token for tests: `transfer` returns nothing, and can be told to fail (return false)
///        or to revert, the ways real tokens refuse.
contract NonStandardToken {
    enum Mode {
        Normal,
        ReturnFalse,
        Revert
    }

    mapping(address => uint256) public balanceOf;
    Mode public mode;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function setMode(Mode m) external {
        mode = m;
    }

    function transfer(address to, uint256 amount) external {
        if (mode == Mode.Revert) revert("NonStandardToken: refused");
        if (mode == Mode.ReturnFalse) {
            assembly {
                mstore(0, 0)
                return(0, 32)
            }
        }
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
    }
}
