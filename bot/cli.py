"""The `snowrail` command: console chat, run modes, migrations, chain tools and benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time

from bot.settings import ConfigError, Settings, load_settings
from core.errors import TransientError

T0 = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "rest", None), list):
        args.rest = extra + args.rest  # `snowrail keys --help`: argparse leaves a leading option out of REMAINDER
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        if getattr(args, "own_settings", False):  # doctor reports bad settings itself; keys need none
            return args.func(args, None) or 0
        settings = load_settings(rpc_url=getattr(args, "rpc", None))
        return args.func(args, settings) or 0
    except ConfigError as e:
        print(f"snowrail: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except TransientError as e:
        where = {"chain": "RPC_URL", "database": "DATABASE_URL"}.get(e.service, e.service)
        print(f"snowrail: {where}: {_scrub(e.message)}", file=sys.stderr)
        return 1
    except Exception as e:  # the last line of defence: one line, never a traceback
        logging.getLogger("snowrail").exception("fatal")
        print(f"snowrail: stopped: {type(e).__name__}: {_scrub(str(e))[:200]}", file=sys.stderr)
        return 1


def _scrub(text: str) -> str:
    for name in ("PRIVATE_KEY", "OWNER_PRIVATE_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN"):
        secret = os.environ.get(name)
        if secret:
            text = text.replace(secret, "***")
    return text


def _logging(settings: Settings, *, to_file: bool) -> None:
    level = getattr(logging, settings.log_level.upper(), logging.WARNING)
    if to_file:
        # The console is a chat window: diagnostics go to a file, never between replies.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(settings.data_dir / "snowrail.log")
        level = min(level, logging.INFO)
    else:
        handler = logging.StreamHandler(sys.stderr)
    from bot.logs import formatter_for, redaction_for

    handler.setFormatter(formatter_for(settings))  # LOG_FORMAT=json: one object a line
    handler.addFilter(redaction_for(settings))  # keys, tokens and URL passwords never reach a log line
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _console(args, settings: Settings) -> int:
    _logging(settings, to_file=True)
    from bot.modes import run_console

    return asyncio.run(run_console(settings, started=T0))


def _run(args, settings: Settings) -> int:
    if args.mode == "console":
        return _console(args, settings)
    _logging(settings, to_file=False)
    if settings.health_port is not None:  # /healthz, /readyz and /metrics beside every run mode
        from bot.health import serve_in_thread

        serve_in_thread(settings, forks=args.mode == "worker")  # RQ's worker forks a child per job
    from bot import modes

    if args.mode == "worker":
        return modes.run_worker(settings, burst=args.burst)
    if args.mode == "web":
        from bot.web_mode import run as run_web

        return run_web(settings)
    if args.mode == "telegram":
        settings.require("telegram_bot_token")
        from bot.telegram_mode import run as run_telegram

        return run_telegram(settings)
    settings.require("discord_bot_token")
    from bot.discord_mode import run as run_discord

    return run_discord(settings)


def _migrate(args, settings: Settings) -> int:
    _logging(settings, to_file=False)
    from adapters.db.migrate import upgrade

    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set; the embedded default migrates its own SQLite file at start")
    asyncio.run(upgrade(settings.database_url))
    print("database is at the latest migration")
    return 0


def _chain(args, settings: Settings) -> int:
    _logging(settings, to_file=False)
    from bot import chain_tools

    if args.action == "allowance":
        if len(args.params) != 3 or args.owner is not None:
            raise ConfigError(f"usage: snowrail chain allowance TOKEN AMOUNT PERIOD [--owner-key], e.g. "
                              f"`snowrail chain allowance USDC 10000 24h` (got {len(args.params)} argument(s))")
        token, amount, period = args.params
        return chain_tools.allowance(settings, token, amount, period, send=args.owner_key)
    if args.params or args.owner_key:
        raise ConfigError(f"TOKEN AMOUNT PERIOD and --owner-key are for `snowrail chain allowance`, not `chain {args.action}`")
    if args.action == "deploy":
        return chain_tools.deploy(settings, owner=args.owner)
    if args.owner is not None:
        raise ConfigError("--owner is for `snowrail chain deploy`; `chain dev` generates its own owner key")
    return chain_tools.dev(settings, port=args.port)


def _reconcile(args, settings: Settings) -> int:
    _logging(settings, to_file=False)
    from bot.modes import reconcile_once

    n = asyncio.run(reconcile_once(settings))
    print(f"reconciled {n} payment(s)")
    return 0


def _bulk(args, settings: Settings) -> int:
    from bot.bulk_cli import main as bulk_main

    return bulk_main(args.rest, settings)


def _audit(args, settings: Settings) -> int:
    from bot.audit_cli import main as audit_main

    return audit_main(args.rest, settings)


def _bench(args, settings: Settings) -> int:
    from bot.bench_cli import main as bench_main

    return bench_main(args.rest, settings)


def _mixer(args, settings: Settings) -> int:
    _logging(settings, to_file=False)
    from bot.mixer_cli import main as mixer_main

    return mixer_main(args.rest, settings)


def _doctor(args, settings: None) -> int:
    from bot.doctor import main as doctor_main

    return doctor_main(args)


def _keys(args, settings: None) -> int:
    from bot.keys import main as keys_main

    return keys_main(args.rest)


def _understand(args, settings: Settings) -> int:
    from bot.understand_cli import main as understand_main

    return understand_main(args.rest, settings)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snowrail", description="SnowRail: payments from chat, settled on chain.")
    sub = p.add_subparsers(metavar="command")
    c = sub.add_parser("console", help="chat with SnowRail in this terminal, as an operator")
    c.add_argument("--rpc", metavar="URL", help="use this node (e.g. anvil) instead of the in-process chain")
    c.set_defaults(func=_console)
    r = sub.add_parser("run", help="run a mode: console | telegram | discord | worker | web")
    r.add_argument("mode", choices=["console", "telegram", "discord", "worker", "web"])
    r.add_argument("--rpc", metavar="URL")
    r.add_argument("--burst", action="store_true", help="worker: exit when the queue is empty")
    r.set_defaults(func=_run)
    m = sub.add_parser("migrate", help="bring DATABASE_URL to the latest schema")
    m.set_defaults(func=_migrate)
    ch = sub.add_parser("chain", help="deploy the contracts, start a local anvil with them, or cap the bot's key "
                                      "(`chain allowance TOKEN AMOUNT PERIOD`)")
    ch.add_argument("action", choices=["deploy", "dev", "allowance"])
    ch.add_argument("params", nargs="*", metavar="TOKEN AMOUNT PERIOD",
                    help="allowance: e.g. USDC 10000 24h (PERIOD: 3600s, 90m, 24h, 1d or 1w); prints the owner's "
                         "setExecutorAllowance transaction for a wallet or Safe")
    ch.add_argument("--owner-key", action="store_true",
                    help="allowance: also sign and send it with the owner key in OWNER_PRIVATE_KEY (dev chains only; "
                         "refused on Cronos 25 and 338)")
    ch.add_argument("--port", type=int, default=8545)
    ch.add_argument("--owner", metavar="ADDRESS",
                    help="deploy: the Settlement's owner (required on Cronos 25 and 338; a key kept off the bot's "
                         "hosts). On a dev chain a separate owner key is generated and printed once when omitted")
    ch.set_defaults(func=_chain)
    rc = sub.add_parser("reconcile", help="settle every signed payment the chain has not confirmed yet")
    rc.set_defaults(func=_reconcile)
    b = sub.add_parser("bulk", help="bulk payout files: `snowrail bulk check FILE [--json]`", add_help=False)
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=_bulk)
    au = sub.add_parser("audit", help="the audit log: `snowrail audit export [--since DATE] --csv FILE`", add_help=False)
    au.add_argument("rest", nargs=argparse.REMAINDER)
    au.set_defaults(func=_audit)
    be = sub.add_parser("bench", help="benchmarks, e.g. `snowrail bench bulk --rows N [--json]`", add_help=False)
    be.add_argument("rest", nargs=argparse.REMAINDER)
    be.set_defaults(func=_bench)
    mx = sub.add_parser("mixer", help="the privacy pools: `snowrail mixer deploy [--pools 0.1,1,10,100]`, "
                                      "`mixer allow POOL [--owner-key]`, `mixer status`", add_help=False)
    mx.add_argument("rest", nargs=argparse.REMAINDER)
    mx.set_defaults(func=_mixer)
    dr = sub.add_parser("doctor", help="check the settings, database, Redis, chain, keys and chat tokens; changes nothing")
    dr.add_argument("--rpc", metavar="URL")
    dr.set_defaults(func=_doctor, own_settings=True)
    ks = sub.add_parser("keys", help="keystore files: `snowrail keys new --out FILE [--password-file FILE]`, "
                                     "`keys address FILE`", add_help=False)
    ks.add_argument("rest", nargs=argparse.REMAINDER)
    ks.set_defaults(func=_keys, own_settings=True)
    un = sub.add_parser("understand", help='what a sentence means: `snowrail understand "TEXT" [--now ISO] [--tz ZONE] '
                                           '--json`', add_help=False)
    un.add_argument("rest", nargs=argparse.REMAINDER)
    un.set_defaults(func=_understand)
    return p


if __name__ == "__main__":
    sys.exit(main())
