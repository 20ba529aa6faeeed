"""Access control that cannot start: a configuration an operator must fix, said in words they can act on."""

from __future__ import annotations


class AccessConfigError(Exception):
    """The credentials configured cannot be used (a malformed key file, a short secret, an unreadable key).
    Raised at start, so a gateway never runs with an access rule other than the one the operator wrote."""


class KeyFileError(AccessConfigError):
    """A line of API_KEYS_FILE that is not `name:sha256-hex`; the message names the file and the line."""
