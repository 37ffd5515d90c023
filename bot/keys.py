"""Keys in Ethereum keystore files (eth-account's format): unlocked for the settings; `snowrail keys new|address`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from bot.settings import ConfigError

# Chains where a raw key in the environment is warned about: real money (Cronos and its testnet).
REAL_MONEY_CHAINS = (25, 338)


def read_password(path: Path, setting: str) -> str:
    """The password in a file (a Docker or Kubernetes secret): its first line, the newline dropped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path} ({e.strerror or type(e).__name__})") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def load_keystore(path: Path, password_path: Path | None, setting: str) -> str:
    """The private key (0x hex) inside the keystore at `path`, unlocked with the password in `password_path`."""
    from eth_account import Account

    if password_path is None:
        raise ConfigError(f"{setting} needs {setting.removesuffix('_FILE')}_PASSWORD_FILE: a file holding the "
                          "keystore's password (a Docker or Kubernetes secret)")
    password = read_password(password_path, f"{setting.removesuffix('_FILE')}_PASSWORD_FILE")
    try:
        keystore = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path} ({e.strerror or type(e).__name__})") from None
    except ValueError:
        raise ConfigError(f"{setting}: {path} is not a keystore (not JSON); make one with `snowrail keys new`") from None
    try:
        key = Account.decrypt(keystore, password)
    except ValueError as e:
        wrong = "MAC mismatch" in str(e)
        raise ConfigError(f"{setting}: " + ("the password does not unlock " if wrong else "cannot read the keystore ")
                          + str(path)) from None
    except Exception:  # a malformed keystore: the library's messages may quote its fields, never say more than this
        raise ConfigError(f"{setting}: {path} is not an Ethereum keystore file") from None
    return "0x" + bytes(key).hex()


def keystore_address(path: Path) -> str:
    """The checksummed address a keystore file names (no password needed: it is stored in the clear)."""
    from eth_utils import to_checksum_address

    try:
        keystore = json.loads(path.read_text(encoding="utf-8"))
        return to_checksum_address("0x" + str(keystore["address"]).removeprefix("0x"))
    except OSError as e:
        raise ConfigError(f"cannot read {path} ({e.strerror or type(e).__name__})") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{path} is not an Ethereum keystore file (it names no address)") from None


def write_keystore(out: Path, password: str) -> str:
    """A new key, encrypted with `password` into `out` (created 0600; never over an existing file). Its address."""
    from eth_account import Account

    if not password:
        raise ConfigError("the password is empty; a keystore needs one")
    account = Account.create()
    keystore = Account.encrypt(account.key, password)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{out} exists already; keys are never overwritten (choose another --out)") from None
    except OSError as e:
        raise ConfigError(f"cannot create {out} ({e.strerror or type(e).__name__})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(keystore, f)
        f.write("\n")
    os.chmod(out, 0o600)  # whatever the umask made of it
    return str(account.address)


def _new_password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        return read_password(args.password_file, "--password-file")
    if not sys.stdin.isatty():
        raise ConfigError("no password: give --password-file FILE, or run `snowrail keys new` in a terminal to "
                          "type one (it is never read from a pipe or an argument)")
    first = getpass.getpass("Password for the new keystore: ")
    if first != getpass.getpass("Again: "):
        raise ConfigError("the two passwords differ; nothing was written")
    return first


USAGE = "usage: snowrail keys new --out FILE [--password-file FILE] | snowrail keys address FILE"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="snowrail keys", description="Ethereum keystore files for PRIVATE_KEY_FILE "
                                     "and MIXER_RELAYER_KEY_FILE.")
    sub = parser.add_subparsers(dest="action", metavar="action")
    new = sub.add_parser("new", help="make a new key in a keystore file (0600), print its address")
    new.add_argument("--out", type=Path, required=True, metavar="FILE")
    new.add_argument("--password-file", type=Path, metavar="FILE",
                     help="the password's file (its first line); without it the password is asked for in a terminal")
    address = sub.add_parser("address", help="print the address of a keystore file")
    address.add_argument("file", type=Path)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    if args.action == "new":
        print(write_keystore(args.out, _new_password(args)))
        print(f"# wrote {args.out} (mode 0600); set PRIVATE_KEY_FILE={args.out} and PRIVATE_KEY_PASSWORD_FILE to a "
              "file holding the password", file=sys.stderr)
        return 0
    if args.action == "address":
        print(keystore_address(args.file))
        return 0
    print(USAGE, file=sys.stderr)
    return 2
