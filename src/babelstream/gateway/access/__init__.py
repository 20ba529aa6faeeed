"""Access control: who may open a session or call the HTTP API (docs/security.md).

One concept per module: `admission` (the whole check of one request), `api_keys` (the key file), `tokens`
(JWT), `credentials` (where a credential is found), `policy` (the rule built from settings, and the start-up rule), `origins` (which web pages), `http_guard`
(the rule on HTTP routes), `redaction` (credentials kept out of logs), `principal` and `refusal` (the two
outcomes of a check).
"""

from babelstream.gateway.access.admission import admit
from babelstream.gateway.access.errors import AccessConfigError, KeyFileError
from babelstream.gateway.access.origins import origin_refusal
from babelstream.gateway.access.policy import AccessPolicy, InsecureBinding, is_loopback, require_credentials_for
from babelstream.gateway.access.principal import ANONYMOUS, Method, Principal, Role
from babelstream.gateway.access.refusal import Refusal, RefusalKind

__all__ = [
    "ANONYMOUS", "AccessConfigError", "admit", "AccessPolicy", "InsecureBinding", "KeyFileError", "Method", "Principal",
    "Refusal", "RefusalKind", "Role", "is_loopback", "origin_refusal", "require_credentials_for",
]
