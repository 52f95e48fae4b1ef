"""A wrapper that keeps secret values out of reprs, f-strings and logs.

Every live :class:`Secret` is tracked in a weak set, so the log redaction filter
(:mod:`presence_bridge.logs`) can mask its value wherever it turns up in a log
line, even when code formats the revealed value by mistake.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

MASK = "***"
"""Placeholder shown in place of a secret in reprs and log lines."""

MIN_REDACTED_LENGTH = 6
"""Values shorter than this are not masked in log lines.

Masking a two-letter value would garble every word that contains it, and a
credential that short gives no protection anyway.
"""

_live_secrets: weakref.WeakSet[Secret] = weakref.WeakSet()
_registrations = 0


class Secret:
    """A secret string such as an app password, token or encryption key.

    ``str()`` and ``repr()`` show :data:`MASK`, never the value.  Call
    :meth:`reveal` at the single place that must send the value, for example
    when building an ``Authorization`` header.  ``source`` names where the value
    came from (``"config file"``, ``"environment variable NC_APP_PASSWORD"``,
    ``"file /etc/presence-bridge/app-password"``) and is safe to print.
    """

    __slots__ = ("_value", "source", "__weakref__")

    def __init__(self, value: str, *, source: str = "code") -> None:
        global _registrations
        self._value = value
        self.source = source
        _live_secrets.add(self)
        _registrations += 1

    def reveal(self) -> str:
        """Return the secret value; never log or print the result."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r}, source={self.source!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return self._value == other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> object:
        raise TypeError("Secret values are not picklable, so they cannot leak through pickles")


def live_secret_values() -> Iterator[str]:
    """Yield the values of every Secret still alive that is long enough to mask."""
    for secret in list(_live_secrets):
        value = secret.reveal()
        if len(value) >= MIN_REDACTED_LENGTH:
            yield value


def registration_count() -> int:
    """Return how many Secrets were ever created; callers use it to invalidate caches."""
    return _registrations
