"""Encryption of secret columns with Fernet, and the check that the keys fit the data.

Keys are given newest first.  New values are encrypted with the first key, and
any of the keys decrypts.  So a store keeps working while :meth:`Store.rotate_keys`
re-encrypts old rows with the first key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..errors import SecretKeyError
from ..secret import Secret

CANARY_PLAINTEXT = b"presence-bridge key check"
"""The known value stored encrypted in ``encryption_canary`` to test the keys at open."""

GENERATE_HINT = (
    "generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class SecretBox:
    """Encrypts and decrypts secret column values with a list of Fernet keys."""

    def __init__(self, keys: Sequence[str | Secret]) -> None:
        if isinstance(keys, (str, Secret)):
            raise TypeError("encryption keys must be a list of keys, newest first, not one key")
        if not keys:
            raise SecretKeyError(
                "no encryption key is configured for the store; secrets are never "
                f"stored in plain text. Configure at least one Fernet key ({GENERATE_HINT})"
            )
        fernets = [_fernet(key, position) for position, key in enumerate(keys, start=1)]
        self._fernet = MultiFernet(fernets)
        self._primary = fernets[0]
        self.key_count = len(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` with the first key and return the Fernet token as text."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        """Decrypt a token written by :meth:`encrypt`; ``what`` names the value in errors."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretKeyError(
                f"{what} cannot be decrypted with any of the {self.key_count} configured "
                "encryption keys; add the key that encrypted it to the key list"
            ) from exc

    def rotate(self, token: str, *, what: str) -> str | None:
        """Return ``token`` re-encrypted with the first key, or None if it already uses it."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except InvalidToken:
            pass
        else:
            return None
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretKeyError(
                f"{what} cannot be decrypted with any of the {self.key_count} configured "
                "encryption keys, so it cannot be re-encrypted; add the key that "
                "encrypted it to the key list and rotate again"
            ) from exc

    def new_canary(self) -> str:
        """Return the canary value encrypted with the first key."""
        return self._fernet.encrypt(CANARY_PLAINTEXT).decode("ascii")

    def check_canary(self, token: str) -> None:
        """Raise :class:`SecretKeyError` unless one of the keys decrypts the stored canary."""
        try:
            plaintext = self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken as exc:
            raise SecretKeyError(
                f"none of the {self.key_count} configured encryption keys decrypts this "
                "store's data: the key that encrypted it is missing or a key is wrong. "
                "Configure that key as storage.encryption_key, or as storage.previous_encryption_key "
                "next to a new key during a rotation"
            ) from exc
        if plaintext != CANARY_PLAINTEXT:
            raise SecretKeyError("the store's key check value is corrupt; restore it from a backup")


def _fernet(key: str | Secret, position: int) -> Fernet:
    raw = key.reveal() if isinstance(key, Secret) else key
    try:
        return Fernet(raw.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeError):
        # The exception text may quote the key, so it is not chained.
        raise SecretKeyError(
            f"encryption key {position} is not a valid Fernet key (32 bytes, "
            f"URL-safe base64, 44 characters); {GENERATE_HINT}"
        ) from None
