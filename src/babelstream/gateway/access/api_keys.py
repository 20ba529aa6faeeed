"""API keys: the key file (`name:sha256-hex-of-secret` lines) and the lookup that follows its changes.

Only hashes are stored: whoever reads the file (a backup, a support bundle) learns no secret. A plain SHA-256
is enough because the secrets are 256 random bits (`generate_secret`): nothing to guess, so no slow,
salted password hash is needed, and a lookup costs a microsecond.

Reload: a lookup calls `stat()` on the file at most once per `CHECK_INTERVAL_SECONDS` and reads it again only
when its inode, size or mtime changed. A stat is a few microseconds and the file is a few hundred bytes, so
doing it on the event loop costs less than handing it to a thread would; and unlike a watcher task it needs
no lifecycle (the CLI and tests use the same object without a loop). A key added or removed takes effect
for requests made at most a second later, with no restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from babelstream.gateway.access.errors import KeyFileError

log = logging.getLogger(__name__)

# Recognisable in a config file, a secret scanner's rules or a leaked paste; credentials.py also uses it.
KEY_PREFIX = "bsk_"
CHECK_INTERVAL_SECONDS = 1.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_NEW_FILE_MODE = 0o600  # hashes only, but nobody else needs to read it


def generate_secret() -> str:
    """A new key: the prefix and 32 random bytes, URL-safe (it may travel in a query string)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def valid_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class KeyEntry:
    name: str
    digest: str  # lower-case hex SHA-256 of the secret


def parse_key_file(text: str, path: Path | str = "API_KEYS_FILE") -> tuple[KeyEntry, ...]:
    """Every key in the file, in order. Blank lines and `#` comments are skipped; anything else that is not
    `name:64-hex-digits` raises KeyFileError naming the line (never its content: a secret pasted by mistake
    in place of its hash must not reach a log)."""
    entries: list[KeyEntry] = []
    names: dict[str, int] = {}
    digests: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, colon, digest = (part.strip() for part in line.partition(":"))
        where = f"{path}, line {number}"
        if not colon:
            raise KeyFileError(f"{where}: expected name:sha256-hex, found no ':'")
        if not valid_name(name):
            raise KeyFileError(
                f"{where}: a key name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
            )
        if not _DIGEST.fullmatch(digest):
            raise KeyFileError(f"{where}: the part after ':' must be 64 hex digits (the SHA-256 of the secret)")
        digest = digest.lower()
        if name in names:
            raise KeyFileError(f"{where}: the name {name!r} is already used on line {names[name]}")
        if digest in digests:
            raise KeyFileError(f"{where}: the same secret as line {digests[digest]}")
        names[name] = digests[digest] = number
        entries.append(KeyEntry(name, digest))
    return tuple(entries)


def _signature(path: Path) -> tuple[int, int, int, int]:
    status = path.stat()
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class ApiKeys:
    """The keys of one file, followed as it changes. A file that becomes unreadable or malformed after start
    accepts no key until it is fixed (fail closed: a half-written edit must not keep a revoked key alive),
    and the error is logged once per change."""

    def __init__(
        self, path: Path | str, *, clock: Callable[[], float] = time.monotonic,
        check_interval: float = CHECK_INTERVAL_SECONDS,
    ):
        self.path = Path(path)
        self._clock = clock
        self._check_interval = check_interval
        try:
            self._seen: tuple[int, int, int, int] | None = _signature(self.path)
            self._entries = parse_key_file(self.path.read_text(encoding="utf-8"), self.path)
        except OSError as error:
            raise KeyFileError(f"API_KEYS_FILE {self.path} cannot be read: {error.strerror}") from None
        self._checked_at = clock()
        self._failure: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        self._maybe_reload()
        return tuple(entry.name for entry in self._entries)

    def lookup(self, secret: str) -> str | None:
        """The name of the key whose secret this is, or None. Every stored digest is compared, in constant time
        each (hmac.compare_digest), so the answer's timing says nothing about which key came close."""
        self._maybe_reload()
        presented = hash_secret(secret)
        found = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.name
        return found

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._checked_at < self._check_interval:
            return
        self._checked_at = now
        try:
            signature = _signature(self.path)
            if signature == self._seen:
                return
            entries = parse_key_file(self.path.read_text(encoding="utf-8"), self.path)
        except (OSError, KeyFileError) as error:
            problem = f"{self.path} cannot be read: {error.strerror}" if isinstance(error, OSError) else str(error)
            if problem != self._failure:
                log.error("API_KEYS_FILE %s; no API key is accepted until it is fixed", problem)
            self._entries, self._seen, self._failure = (), None, problem
            return
        self._entries, self._seen, self._failure = entries, signature, None
        log.info("API keys reloaded from %s: %d keys", self.path, len(entries))


# -- editing the file (the `babelstream keys` commands) --------------------------------------------------------


def read_entries(path: Path) -> tuple[KeyEntry, ...]:
    return parse_key_file(path.read_text(encoding="utf-8"), path) if path.exists() else ()


def add_key(path: Path, name: str) -> str:
    """Store a new key named `name` and return its secret: the only time it exists outside the client."""
    if not valid_name(name):
        raise KeyFileError(
            f"{name!r} is not a key name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if any(entry.name == name for entry in parse_key_file(text, path)):
        raise KeyFileError(f"{path} already has a key named {name!r}; remove it first to replace it")
    secret = generate_secret()
    if text and not text.endswith("\n"):
        text += "\n"
    _write_atomically(path, f"{text}{name}:{hash_secret(secret)}\n")
    return secret


def remove_key(path: Path, name: str) -> None:
    """Drop the key named `name`; comments and the other lines stay as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    parse_key_file(text, path)  # refuse to rewrite a file we cannot read
    kept = []
    found = False
    for raw in text.splitlines(keepends=True):
        line = raw.strip()
        if line and not line.startswith("#") and line.partition(":")[0].strip() == name:
            found = True
            continue
        kept.append(raw)
    if not found:
        raise KeyFileError(f"{path} has no key named {name!r}")
    _write_atomically(path, "".join(kept))


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the file and rename over it: a gateway reading it concurrently sees the old file or the new
    one, never half of it. An existing file keeps its permissions; a new one is readable by its owner only."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else _NEW_FILE_MODE
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
