"""Every subcommand answers --help (argparse leaves a leading option out of a REMAINDER, so pass-through
subcommands such as `keys` once refused it)."""

from __future__ import annotations

import pytest

from bot.cli import main


@pytest.mark.parametrize("command", ["keys", "understand", "bulk", "audit", "mixer", "doctor", "run", "chain"])
def test_each_subcommand_prints_its_usage_for_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([command, "--help"])
    except SystemExit as done:  # argparse's own --help exits; pass-through subcommands return the code
        code = done.code
    assert code == 0
    assert f"snowrail {command}" in capsys.readouterr().out


def test_an_unknown_option_is_still_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["doctor", "--nope"])
    assert done.value.code == 2 and "unrecognized arguments: --nope" in capsys.readouterr().err
