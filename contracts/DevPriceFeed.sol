// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity 0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title A price feed for dev chains that reads like a Chainlink AggregatorV3Interface feed, and that its owner
///        moves: `setAnswer` starts a new round now, `setRound` one with any `updatedAt` (to make it stale in
///        tests). Never deploy to a real network: whoever owns it decides the price.
contract DevPriceFeed is Ownable {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    uint8 public immutable decimals;
    uint256 public constant version = 4;
    string public description;
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    /// @notice Chainlink's aggregators emit this on every new answer.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    /// @notice No round with that id (Chainlink feeds revert too).
    error NoDataPresent();

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer, address initialOwner)
        Ownable(initialOwner)
    {
        decimals = decimals_;
        description = description_;
        _newRound(initialAnswer, block.timestamp);
    }

    /// @notice A new round answering `answer` (scaled by 10**decimals), updated now.
    function setAnswer(int256 answer) external onlyOwner {
        _newRound(answer, block.timestamp);
    }

    /// @notice A new round answering `answer` as if updated at `updatedAt` (a unix time, e.g. long ago).
    function setRound(int256 answer, uint256 updatedAt) external onlyOwner {
        _newRound(answer, updatedAt);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round storage r = _rounds[roundId];
        if (roundId == 0 || roundId > latestRound) revert NoDataPresent();
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    /// @notice Chainlink's older interface, which some readers still use.
    function latestAnswer() external view returns (int256) {
        return _rounds[latestRound].answer;
    }

    function _newRound(int256 answer, uint256 updatedAt) private {
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round(answer, uint64(updatedAt), uint64(updatedAt));
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}
