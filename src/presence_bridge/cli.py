"""The ``presence-bridge`` command line.

Each sub-command parses its options and hands over to the module that does the
work; the emulator and the demo are imported only when their command runs, so
``config check`` works without loading the HTTP stack.

Exit status: 0 on success, 1 when the configuration is invalid or a command
fails, 2 for a usage error (argparse), 130 after Ctrl-C where a command cannot
stop cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from presence_bridge import __version__, cli_db, cli_links, cli_matrix, cli_run, config
from presence_bridge.config_summary import describe
from presence_bridge.errors import BridgeError, ConfigError
from presence_bridge.logs import CLI, setup_logging

logger = logging.getLogger(CLI)

EXIT_OK = 0
EXIT_FAILURE = 1


def _config_check(args: argparse.Namespace) -> int:
    path: Path = args.config
    try:
        settings = config.load(path)
    except ConfigError as exc:
        print(f"Configuration file {path} is invalid:\n  {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Configuration file {path} is valid.")
    for line in describe(settings):
        print(line)
    return EXIT_OK


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    setup_logging(settings)
    from presence_bridge.storage import upgrade_database

    revision = asyncio.run(upgrade_database(settings.storage.url))
    print(f"The database {settings.storage.url} is at schema revision {revision}.")
    return EXIT_OK


def _emulator_address(args: argparse.Namespace) -> tuple[str, int]:
    """Resolve host and port: command-line options first, then ``[emulator]`` of --config, then defaults.

    With --config the whole file is validated and its ``[logging]`` applies.
    """
    if args.config is not None:
        settings = config.load(args.config)
        setup_logging(settings)
        emulator = settings.emulator
    else:
        setup_logging(config.LoggingSettings(level=args.log_level))
        emulator = config.EmulatorSettings()
    host = args.host if args.host is not None else emulator.host
    port = args.port if args.port is not None else emulator.port
    return host, port


def _port_unavailable(host: str, port: int) -> bool:
    """Return True, after printing why, when ``host:port`` cannot be bound (checked by binding it once)."""
    if port == 0:
        return False
    try:
        with socket.create_server((host, port)):
            return False
    except OSError as exc:
        print(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. "
            "Stop the program using that port, or pass --port 0 to pick a free one.",
            file=sys.stderr,
        )
        return True


def _nextcloud_emulator(args: argparse.Namespace) -> int:
    host, port = _emulator_address(args)
    if _port_unavailable(host, port):
        return EXIT_FAILURE
    from presence_bridge.demo import DEMO_SEED
    from presence_bridge.emulator.server import run_emulator

    seed = DEMO_SEED if args.seed_demo else None
    try:
        run_emulator(host=host, port=port, control=not args.no_control, seed=seed)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        # uvicorn shuts down on the first SIGINT, then raises the signal again for the caller.
        pass
    logger.info("Nextcloud emulator stopped")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    host, port = _emulator_address(args)
    if _port_unavailable(host, port):
        return EXIT_FAILURE
    from presence_bridge.demo import run_demo

    return run_demo(host=host, port=port, interval=args.interval)


def _positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {value!r}") from None
    if not 0.1 <= number <= 3600:
        raise argparse.ArgumentTypeError(f"{value} s is out of range; use 0.1 to 3600 seconds")
    return number


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}; use 0 to 65535 (0 picks a free port)")
    return int(value)


def _add_emulator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="read [emulator] host and port and [logging] from this configuration file (validated in full)",
    )
    parser.add_argument("--host", help="address the emulator listens on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="emulator TCP port (default: 8080, 0 for any free port)")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="presence-bridge",
        description="Mirror Nextcloud user status to Slack and Matrix and back.",
    )
    parser.add_argument("--version", action="version", version=f"presence-bridge {__version__}")
    parser.add_argument(
        "--log-level",
        choices=config.LOG_LEVELS,
        default="INFO",
        type=str.upper,
        help="log level when no configuration file is given (default: INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config_parser = commands.add_parser("config", help="work with the configuration file")
    config_commands = config_parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="load and validate a configuration file, then summarise it")
    check.add_argument(
        "--config",
        type=Path,
        default=config.DEFAULT_CONFIG_PATH,
        help=f"path of the TOML configuration file (default: {config.DEFAULT_CONFIG_PATH})",
    )
    check.set_defaults(handler=_config_check)

    db_parser = commands.add_parser("db", help="manage the bridge's database")
    db_commands = db_parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade", help="create the database schema or upgrade it to the newest migration"
    )
    upgrade.add_argument(
        "--config",
        type=Path,
        default=config.DEFAULT_CONFIG_PATH,
        help=f"path of the TOML configuration file whose [storage] url names the database "
        f"(default: {config.DEFAULT_CONFIG_PATH})",
    )
    upgrade.set_defaults(handler=_db_upgrade)
    cli_db.register(db_commands)

    emulator = commands.add_parser(
        "nextcloud-emulator",
        help="serve a local Nextcloud user-status emulator in the foreground until Ctrl-C",
    )
    _add_emulator_options(emulator)
    emulator.add_argument(
        "--no-control",
        action="store_true",
        help="disable the /_emulator/ control API that creates users and changes the clock",
    )
    emulator.add_argument("--seed-demo", action="store_true", help="start with the demo team already created")
    emulator.set_defaults(handler=_nextcloud_emulator)

    demo = commands.add_parser(
        "demo",
        help="start the emulator with a small team and print every status change until Ctrl-C",
    )
    _add_emulator_options(demo)
    demo.add_argument(
        "--interval",
        type=_positive_seconds,
        default=3.0,
        help="seconds between two reads of the status list (default: 3)",
    )
    demo.set_defaults(handler=_demo)

    cli_run.register(commands)
    cli_links.register(commands)
    cli_matrix.register(commands)
    return parser


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = build_parser().parse_args(argv)
    # Let SIGTERM (systemctl stop, docker stop, kill) take the same clean path as Ctrl-C.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except ConfigError as exc:
        print(f"Configuration file {args.config} is invalid:\n  {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BridgeError as exc:
        logger.error("%s failed: %s", args.command, exc)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
