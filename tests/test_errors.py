"""The exception tree: one root, and a docstring that draws every class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import presence_bridge
from presence_bridge import errors


EMULATOR_PACKAGE = "presence_bridge.emulator."
"""The emulator stands in for a Nextcloud server. Its exceptions model server-side
failures and are turned into HTTP responses inside the emulator, so bridge code
never catches them and they need not derive from BridgeError."""


def project_modules() -> list[str]:
    """Return the dotted name of every module in the presence_bridge package."""
    return [
        info.name
        for info in pkgutil.walk_packages(presence_bridge.__path__, prefix="presence_bridge.")
    ]


def bridge_modules() -> list[str]:
    """Return every project module except the emulator's and Alembic's migration scripts.

    Migration scripts run only inside Alembic, so importing them alone fails.
    """
    return [
        name
        for name in project_modules()
        if not name.startswith(EMULATOR_PACKAGE) and ".migrations." not in f"{name}."
    ]


def error_classes_in(module_name: str) -> list[type[BaseException]]:
    module = importlib.import_module(module_name)
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module_name
    ]


def test_bridge_exceptions_derive_from_bridge_error() -> None:
    strays = [
        f"{cls.__module__}.{cls.__qualname__}"
        for module_name in bridge_modules()
        for cls in error_classes_in(module_name)
        if not issubclass(cls, errors.BridgeError)
    ]
    assert strays == []


def test_module_walk_finds_errors() -> None:
    assert "presence_bridge.errors" in bridge_modules()
    assert "presence_bridge.config" in bridge_modules()


def test_errors_module_defines_exceptions() -> None:
    assert errors.BridgeError in error_classes_in("presence_bridge.errors")
    assert len(error_classes_in("presence_bridge.errors")) > 1


def test_docstring_tree_lists_every_class() -> None:
    tree_names = set(re.findall(r"^\s*(?:[│├└─ ]*)([A-Z][A-Za-z]+)\b", errors.__doc__ or "", re.MULTILINE))
    defined = {cls.__name__ for cls in error_classes_in("presence_bridge.errors")}

    missing = sorted(defined - tree_names)
    assert missing == [], f"classes missing from the errors docstring tree: {missing}"
    unknown = sorted(name for name in tree_names - defined if name.endswith(("Error", "Pending", "Unavailable")))
    assert unknown == [], f"docstring tree names classes that do not exist: {unknown}"


def test_docstring_tree_parents_match_classes() -> None:
    """Each tree entry sits under its base class: the indent of a child is deeper than its parent's."""
    lines = [
        line
        for line in (errors.__doc__ or "").splitlines()
        if re.match(r"^\s*[│├└─ ]*[A-Z][A-Za-z]+\b", line) and re.search(r"[├└]── |^    BridgeError", line)
    ]
    stack: list[tuple[int, str]] = []
    for line in lines:
        match = re.match(r"^([\s│├└─]*)([A-Z][A-Za-z]+)", line)
        assert match is not None
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        cls = getattr(errors, name)
        if stack:
            parent = getattr(errors, stack[-1][1])
            assert cls.__bases__[0] is parent, f"{name} is drawn under {parent.__name__}"
        stack.append((depth, name))
    assert stack, "no tree found in the errors docstring"
