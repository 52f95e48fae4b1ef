"""Command-line options that several ``presence-bridge`` sub-commands share."""

from __future__ import annotations

import argparse
from pathlib import Path

from presence_bridge import config


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config``, the path of the TOML configuration file."""
    parser.add_argument(
        "--config",
        type=Path,
        default=config.DEFAULT_CONFIG_PATH,
        help=f"path of the TOML configuration file (default: {config.DEFAULT_CONFIG_PATH})",
    )
