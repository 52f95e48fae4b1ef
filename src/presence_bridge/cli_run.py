"""The ``run`` and ``check`` sub-commands of ``presence-bridge``.

``run`` is the long-running bridge process (:mod:`presence_bridge.service.runner`);
``check`` tests every configured system once and prints what is wrong
(:mod:`presence_bridge.service.check`).  Both validate the whole configuration
file first.  The service modules are imported only when a command runs, so other
commands do not load uvicorn and the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from presence_bridge import config
from presence_bridge.cli_options import add_config_option
from presence_bridge.logs import CLI, setup_logging

logger = logging.getLogger(CLI)

EXIT_OK = 0
EXIT_FAILURE = 1


def _run(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    setup_logging(settings)
    from presence_bridge.service.runner import run

    return run(settings)


def _check(args: argparse.Namespace) -> int:
    settings = config.load(args.config)
    # Only warnings from the libraries: the report itself goes to standard output.
    setup_logging(config.LoggingSettings(level="WARNING", format=settings.logging.format))
    from presence_bridge.service.check import run_checks

    print(f"Configuration file {args.config} is valid.")
    # Each failed request becomes a FAIL line that says what to change, so the client's
    # own error line about the same request would only repeat it with advice for other accounts.
    client_logger = logging.getLogger("presence_bridge.nextcloud")
    level = client_logger.level
    client_logger.setLevel(logging.CRITICAL)
    try:
        results = asyncio.run(run_checks(settings))
    finally:
        client_logger.setLevel(level)
    for result in results:
        print(result)
    failures = [result for result in results if not result.ok]
    if failures:
        print(f"{len(failures)} of {len(results)} checks failed.")
        return EXIT_FAILURE
    print(f"All {len(results)} checks passed.")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add ``run`` and ``check`` to the sub-command parsers of ``presence-bridge``."""
    run = commands.add_parser(
        "run",
        help="run the bridge: sweep Nextcloud, send chat writes, serve /healthz, /readyz and /metrics",
    )
    add_config_option(run)
    run.set_defaults(handler=_run)

    check = commands.add_parser(
        "check",
        help="check that Nextcloud, the store and each chat platform are reachable and their credentials work",
    )
    add_config_option(check)
    check.set_defaults(handler=_check)
