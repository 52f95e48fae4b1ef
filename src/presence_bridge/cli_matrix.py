"""Operator commands for Matrix: ``presence-bridge matrix registration``.

``registration`` writes the appservice registration file for the homeserver from
the ``[matrix]`` table.  When the table has ``as_token`` and ``hs_token`` the file
uses them, so running the command again gives the same file.  Without them it
generates two new tokens: with ``--token-dir`` it writes each to a file (mode
0600) and prints the ``*_file`` lines to add to ``[matrix]``; otherwise it prints
the tokens as lines to add.  Either way the tokens in the bridge's configuration
and in the registration file must be the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from presence_bridge import config
from presence_bridge.matrix.registration import Registration, generate_token, render_registration
from presence_bridge.matrix.settings import MatrixSettings

EXIT_OK = 0
EXIT_FAILURE = 1
AS_TOKEN_FILE = "matrix-as-token"
HS_TOKEN_FILE = "matrix-hs-token"


def register(commands: Any) -> None:
    """Add ``matrix registration`` to the sub-command set ``commands``."""
    matrix = commands.add_parser("matrix", help="Matrix homeserver set-up")
    actions = matrix.add_subparsers(dest="matrix_command", required=True, metavar="ACTION")
    registration = actions.add_parser(
        "registration", help="write the appservice registration file for the homeserver"
    )
    registration.add_argument(
        "--config",
        type=Path,
        default=config.DEFAULT_CONFIG_PATH,
        help=f"path of the TOML configuration file with a [matrix] table (default: {config.DEFAULT_CONFIG_PATH})",
    )
    registration.add_argument(
        "--output", type=Path, help="write the registration to this file (mode 0600) instead of standard output"
    )
    registration.add_argument(
        "--url",
        help="URL at which the homeserver reaches the bridge (default: matrix.appservice_url, "
        "else http://<server.host>:<server.port>)",
    )
    registration.add_argument(
        "--token-dir",
        type=Path,
        help="when [matrix] has no tokens, write the new ones to files in this folder instead of printing them",
    )
    registration.set_defaults(handler=_registration)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only, replacing an existing file."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _tokens(matrix: MatrixSettings, token_dir: Path | None) -> tuple[str, str, list[str]]:
    """Return the as_token, the hs_token and the config lines to print for new tokens."""
    if matrix.as_token is not None and matrix.hs_token is not None:
        return matrix.as_token.reveal(), matrix.hs_token.reveal(), []
    as_token, hs_token = generate_token(), generate_token()
    if token_dir is None:
        return as_token, hs_token, [f'as_token = "{as_token}"', f'hs_token = "{hs_token}"']
    token_dir.mkdir(parents=True, exist_ok=True)
    as_path, hs_path = (token_dir / AS_TOKEN_FILE).resolve(), (token_dir / HS_TOKEN_FILE).resolve()
    _write_private(as_path, as_token + "\n")
    _write_private(hs_path, hs_token + "\n")
    return as_token, hs_token, [f'as_token_file = "{as_path}"', f'hs_token_file = "{hs_path}"']


def _registration(args: argparse.Namespace) -> int:
    settings = config.load(args.config, matrix_token=False)
    matrix = settings.matrix
    if matrix is None:
        print(
            f"{args.config} has no [matrix] section, so there is nothing to register. Add [matrix] with at least "
            "homeserver_url and server_name (see config.example.toml), then run this command again.",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    url = args.url or matrix.appservice_url
    if url is None:
        if settings.server.port == 0:
            print(
                "Cannot write the registration: [server] port = 0 picks a new port at each start, so the "
                "homeserver could not reach the bridge. Set matrix.appservice_url, pass --url, or set "
                "server.port to a fixed port.",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        url = f"http://{settings.server.host}:{settings.server.port}"
    as_token, hs_token, new_lines = _tokens(matrix, args.token_dir)
    registration = Registration(
        id=matrix.appservice_id,
        url=url,
        as_token=as_token,
        hs_token=hs_token,
        sender_localpart=matrix.bot_localpart,
        user_regex=matrix.namespace_regex,
    )
    text = render_registration(registration)

    if args.output is None:
        sys.stdout.write(text)
        target = "/path/to/presence-bridge-registration.yaml"
    else:
        _write_private(args.output, text)
        target = str(args.output.resolve())
        print(f"Wrote the appservice registration to {target}.", file=sys.stderr)
    if new_lines:
        print(
            f"\n[matrix] in {args.config} has no appservice tokens, so new ones were generated. "
            "Add these lines to [matrix]:\n\n    " + "\n    ".join(new_lines),
            file=sys.stderr,
        )
    print(
        "\nIn Synapse's homeserver.yaml, list the file and, for Nextcloud 'do not disturb' as busy, "
        "turn on MSC3026; then restart Synapse:\n\n"
        f"    app_service_config_files:\n      - {target}\n"
        "    experimental_features:\n      msc3026_enabled: true",
        file=sys.stderr,
    )
    return EXIT_OK
