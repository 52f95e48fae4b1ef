"""The pure core imports no network, database or chat library, and nothing outside core and errors.

Each module is imported in a fresh interpreter so that modules other tests loaded
cannot hide or fake an import.  A second check reads every ``import`` statement,
which also catches imports inside functions that an import alone does not run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import presence_bridge.core

FORBIDDEN_TOP_LEVEL = frozenset(
    {
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "socket",
        "ssl",
        "sqlite3",
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
        "alembic",
        "slack_sdk",
        "slack_bolt",
        "nio",
        "starlette",
        "uvicorn",
        "requests",
        "aiohttp",
        "websockets",
    }
)
"""Top-level packages of network, database and chat libraries (and the sockets they use)."""

FORBIDDEN_SUBMODULES = frozenset({"http.client", "urllib.request"})

CORE_DIR = Path(presence_bridge.core.__file__).parent


def module_name(path: Path) -> str:
    """Return the dotted name of a source file under the core package."""
    parts = path.relative_to(CORE_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("presence_bridge", "core", *parts))


CORE_FILES = {module_name(path): path for path in sorted(CORE_DIR.rglob("*.py"))}
CORE_MODULES = sorted(name for name in CORE_FILES if name != "presence_bridge.core")

_LIST_MODULES = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"


def is_allowed_project_module(name: str) -> bool:
    """Return whether a presence_bridge module may be loaded by the core."""
    return name in ("presence_bridge", "presence_bridge.core", "presence_bridge.errors") or name.startswith(
        "presence_bridge.core."
    )


def test_core_has_modules() -> None:
    """The module list is not empty, so the parametrized checks below really run."""
    assert "presence_bridge.core.commands" in CORE_MODULES
    assert "presence_bridge.core.timeexpr" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_import_loads_no_io_library(module: str) -> None:
    """Importing a core module in a fresh interpreter loads no I/O library and no non-core project module."""
    result = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, module],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    loaded = json.loads(result.stdout)
    forbidden = sorted(
        name for name in loaded if name.split(".")[0] in FORBIDDEN_TOP_LEVEL or name in FORBIDDEN_SUBMODULES
    )
    outside_core = sorted(
        name for name in loaded if name.startswith("presence_bridge") and not is_allowed_project_module(name)
    )
    assert forbidden == []
    assert outside_core == []


def imported_names(path: Path, module: str) -> list[str]:
    """Return the absolute names of every module that ``import`` statements in ``path`` name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.append(f"{parent}.{node.module}" if node.module else parent)
            else:
                names.append(node.module or "")
    return names


@pytest.mark.parametrize("module", sorted(CORE_FILES))
def test_import_statements_stay_in_core(module: str) -> None:
    """No import statement in a core module, even inside a function, names an I/O library or non-core module."""
    names = imported_names(CORE_FILES[module], module)

    assert [name for name in names if name.split(".")[0] in FORBIDDEN_TOP_LEVEL or name in FORBIDDEN_SUBMODULES] == []
    assert [name for name in names if name.startswith("presence_bridge") and not is_allowed_project_module(name)] == []


def test_relative_imports_resolve(tmp_path: Path) -> None:
    """Relative imports are resolved to absolute names, so '..nextcloud' cannot slip through."""
    source = tmp_path / "sample.py"
    source.write_text("from ..nextcloud import client\nfrom . import status\nfrom ..errors import CommandError\n")

    names = imported_names(source, "presence_bridge.core.sample")

    assert names == ["presence_bridge.nextcloud", "presence_bridge.core", "presence_bridge.errors"]
    assert not is_allowed_project_module(names[0])
