"""Keystore keys: `snowrail keys new|address`, and PRIVATE_KEY_FILE / MIXER_RELAYER_KEY_FILE in the settings."""

from __future__ import annotations

import io
import json
import stat

import pytest
from eth_account import Account

from bot.cli import main
from bot.settings import ConfigError, Settings


@pytest.fixture
def password(tmp_path):
    path = tmp_path / "password"
    path.write_text("correct horse battery\n")
    return path


def test_keys_new_writes_a_0600_keystore_that_address_and_the_settings_read(tmp_path, password, capsys):
    out = tmp_path / "executor.json"
    assert main(["keys", "new", "--out", str(out), "--password-file", str(password)]) == 0
    printed = capsys.readouterr().out.strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert main(["keys", "address", str(out)]) == 0
    assert capsys.readouterr().out.strip() == printed
    settings = Settings(_env_file=None, private_key_file=out, private_key_password_file=password)
    assert settings.private_key is not None
    assert Account.from_key(settings.private_key.get_secret_value()).address == printed
    assert settings.private_key.get_secret_value() not in out.read_text()  # encrypted, not stored in the clear


def test_keys_new_never_overwrites_and_refuses_without_a_password(tmp_path, password, monkeypatch, capsys):
    out = tmp_path / "k.json"
    out.write_text("{}")
    assert main(["keys", "new", "--out", str(out), "--password-file", str(password)]) == 2
    assert "exists already" in capsys.readouterr().err and out.read_text() == "{}"
    monkeypatch.setattr("sys.stdin", io.StringIO("piped password\n"))  # not a terminal: never read
    assert main(["keys", "new", "--out", str(tmp_path / "new.json")]) == 2
    assert "no password: give --password-file" in capsys.readouterr().err
    assert not (tmp_path / "new.json").exists()


def test_keys_address_of_a_file_that_is_not_a_keystore(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert main(["keys", "address", str(bad)]) == 2
    assert "not an Ethereum keystore" in capsys.readouterr().err


def test_relayer_keystore_and_the_errors_name_the_setting(tmp_path, password):
    relayer = Account.create()
    path = tmp_path / "relayer.json"
    path.write_text(json.dumps(Account.encrypt(relayer.key, "correct horse battery")))
    s = Settings(_env_file=None, mixer_relayer_key_file=path, mixer_relayer_key_password_file=password)
    assert s.mixer_relayer_key is not None
    assert Account.from_key(s.mixer_relayer_key.get_secret_value()).address == relayer.address
    with pytest.raises(ConfigError, match="MIXER_RELAYER_KEY_FILE needs MIXER_RELAYER_KEY_PASSWORD_FILE"):
        Settings(_env_file=None, mixer_relayer_key_file=path)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    with pytest.raises(ConfigError, match="PRIVATE_KEY_FILE: the password does not unlock"):
        Settings(_env_file=None, private_key_file=path, private_key_password_file=wrong)
    with pytest.raises(ConfigError, match="PRIVATE_KEY and PRIVATE_KEY_FILE are both set"):
        Settings(_env_file=None, private_key="0x" + "11" * 32, private_key_file=path, private_key_password_file=password)


def test_a_raw_key_is_warned_about_on_cronos_only(caplog):
    from bot.bootstrap import _warn_raw_keys

    raw = Settings(_env_file=None, private_key="0x" + "11" * 32)
    with caplog.at_level("WARNING", logger="snowrail.bootstrap"):
        _warn_raw_keys(raw, 31337)
        assert not caplog.records
        _warn_raw_keys(raw, 25)
    assert "PRIVATE_KEY is a raw key in the environment on chain 25" in caplog.text
    assert "11" * 32 not in caplog.text
