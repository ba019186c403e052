"""Secrets kept at rest encrypted under a server key (webhook signing secrets).

A webhook secret cannot be hashed like an API key (HMAC signing needs the secret itself), so it is
stored sealed: AES-256-GCM with a random 96-bit nonce, the row's id as associated data (a sealed
value copied onto another row does not open), as text "v1:<key id>:<base64url(nonce + ciphertext)>".
The key id (8 hex digits of the key's SHA-256) says which key sealed it, so a wrong key is named
as such instead of failing as garbage.

The server key, first found of:
  1. LENDSTACK_SECRET_KEY: 32 bytes in urlsafe base64 (`lendstack-secret-key` style: 43-44 chars),
     for deployments that hand out secrets through the environment;
  2. the key file LENDSTACK_SECRET_KEY_FILE, default $XDG_CONFIG_HOME/lendstack/secret.key
     (~/.config/lendstack/secret.key): created on first use with 32 random bytes, mode 0600, in a
     0700 directory, so `make demo` and the tests need no set-up.
The key is kept apart from the database on purpose: a copy of the database (a dump, a backup, the
idempotency table) does not open the secrets without it. Losing the key loses the webhook secrets
(partners subscribe again); back it up with the database's credentials, not with its data."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendstack.errors import LendstackError

KEY_ENV = "LENDSTACK_SECRET_KEY"
KEY_FILE_ENV = "LENDSTACK_SECRET_KEY_FILE"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
VERSION = "v1"
SEALED_LENGTH_MAX = 4096  # a bound on what `open_` will decode
PLAIN_LENGTH_MAX = 1024


class SecretBoxError(LendstackError):
    """The key is missing or malformed, or a sealed value does not open; names the setting."""


def default_key_file() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "lendstack" / "secret.key"


def server_key() -> bytes:
    """The server key (see the module docstring); created in its key file on first use."""
    configured = os.environ.get(KEY_ENV, "").strip()
    if configured:
        return _decode_key(configured, KEY_ENV)
    return _key_from_file(os.environ.get(KEY_FILE_ENV, "").strip() or str(default_key_file()))


def _decode_key(text: str, field: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SecretBoxError(field, "must be 32 bytes in urlsafe base64") from None
    if len(key) != KEY_BYTES:
        raise SecretBoxError(field, f"must be {KEY_BYTES} bytes in urlsafe base64, got {len(key)} bytes")
    return key


@lru_cache(maxsize=8)
def _key_from_file(path_text: str) -> bytes:
    """Read (or create, 0600) the key file. Cached per path: the file is read once per process."""
    path = Path(path_text)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        text = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(text + "\n")
    if path.stat().st_mode & 0o077:
        raise SecretBoxError(KEY_FILE_ENV, f"{path} must be readable by its owner only (chmod 600)")
    return _decode_key(path.read_text().strip(), KEY_FILE_ENV)


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def is_sealed(value: str) -> bool:
    return value.startswith(VERSION + ":")


def seal(plain: str, *, context: str, key: bytes | None = None) -> str:
    """`plain` encrypted under the server key, bound to `context` (e.g. the row's id)."""
    assert 0 < len(plain) <= PLAIN_LENGTH_MAX and context, "a secret and what it belongs to"
    key = key or server_key()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plain.encode(), context.encode())
    text = f"{VERSION}:{key_id(key)}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"
    assert len(text) <= SEALED_LENGTH_MAX
    return text


def open_(sealed: str, *, context: str, key: bytes | None = None) -> str:
    """The plain text of a value `seal` made for the same `context`."""
    parts = sealed.split(":")
    if len(sealed) > SEALED_LENGTH_MAX or len(parts) != 3 or parts[0] != VERSION:
        raise SecretBoxError("secret", "is not a sealed value")
    key = key or server_key()
    if parts[1] != key_id(key):
        raise SecretBoxError("secret", f"was sealed with another server key (key id {parts[1]}, this server's is "
                                       f"{key_id(key)}): set {KEY_ENV} or {KEY_FILE_ENV} to that key")
    try:
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
    except (binascii.Error, ValueError, InvalidTag):
        raise SecretBoxError("secret", "does not open (altered, or sealed for another record)") from None
