"""gateway/access/api_keys.py: the key file's format, the lookup, reload on change, editing the file."""

from __future__ import annotations

import hashlib
import logging
import os
import stat

import pytest

from babelstream.gateway.access import api_keys
from babelstream.gateway.access.api_keys import ApiKeys, KeyEntry, add_key, parse_key_file, remove_key
from babelstream.gateway.access.errors import KeyFileError

SECRET_A = "bsk_first-secret-for-alice"
SECRET_B = "bsk_second-secret-for-bob"


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rewrite(path, text: str) -> None:
    """Write and make sure the change is visible to a stat even on a coarse-mtime filesystem."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_the_file_format_allows_comments_and_blank_lines_and_upper_case_hex():
    text = f"# who holds which key\n\nalice:{sha(SECRET_A)}\n  bob : {sha(SECRET_B).upper()}  \n"
    assert parse_key_file(text) == (KeyEntry("alice", sha(SECRET_A)), KeyEntry("bob", sha(SECRET_B)))


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("alice", "no ':'"),
        (f"al ice:{sha(SECRET_A)}", "key name"),
        (f":{sha(SECRET_A)}", "key name"),
        ("alice:1234", "64 hex digits"),
        (f"alice:{SECRET_A}", "64 hex digits"),
    ],
)
def test_a_malformed_line_is_an_error_naming_the_file_and_line_but_not_its_content(line, complaint):
    with pytest.raises(KeyFileError) as raised:
        parse_key_file(f"# header\nbob:{sha(SECRET_B)}\n{line}\n", "/etc/babelstream/keys")
    message = str(raised.value)
    assert message.startswith("/etc/babelstream/keys, line 3: ")
    assert complaint in message
    assert SECRET_A not in message and sha(SECRET_A) not in message


def test_duplicate_names_and_duplicate_secrets_are_errors():
    with pytest.raises(KeyFileError, match="line 2: the name 'alice' is already used on line 1"):
        parse_key_file(f"alice:{sha(SECRET_A)}\nalice:{sha(SECRET_B)}\n")
    with pytest.raises(KeyFileError, match="line 2: the same secret as line 1"):
        parse_key_file(f"alice:{sha(SECRET_A)}\nbob:{sha(SECRET_A)}\n")


def test_lookup_names_the_key_and_refuses_others(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice:{sha(SECRET_A)}\nbob:{sha(SECRET_B)}\n")
    keys = ApiKeys(path)
    assert keys.lookup(SECRET_A) == "alice"
    assert keys.lookup(SECRET_B) == "bob"
    assert keys.lookup("bsk_not-a-key") is None
    assert keys.lookup(sha(SECRET_A)) is None  # the stored hash is not a credential
    assert keys.names == ("alice", "bob")


def test_lookup_compares_every_digest_in_constant_time(tmp_path, monkeypatch):
    path = tmp_path / "keys"
    path.write_text(f"alice:{sha(SECRET_A)}\nbob:{sha(SECRET_B)}\n")
    keys = ApiKeys(path)
    compared = []

    def compare_digest(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(api_keys.hmac, "compare_digest", compare_digest)
    assert keys.lookup(SECRET_A) == "alice"
    # both entries were compared, the first match did not stop the loop
    assert compared == [(sha(SECRET_A), sha(SECRET_A)), (sha(SECRET_A), sha(SECRET_B))]


def test_a_changed_file_is_read_again_within_a_second_without_a_restart(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice:{sha(SECRET_A)}\n")
    clock = Clock()
    keys = ApiKeys(path, clock=clock)
    assert keys.lookup(SECRET_A) == "alice" and keys.lookup(SECRET_B) is None

    rewrite(path, f"bob:{sha(SECRET_B)}\n")  # alice revoked, bob added
    clock.now += 0.5
    assert keys.lookup(SECRET_A) == "alice"  # not checked yet: at most one stat a second
    clock.now += 0.6
    assert keys.lookup(SECRET_A) is None
    assert keys.lookup(SECRET_B) == "bob"


def test_an_atomically_replaced_file_is_noticed(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"alice:{sha(SECRET_A)}\n")
    clock = Clock()
    keys = ApiKeys(path, clock=clock)
    replacement = tmp_path / "keys.new"
    replacement.write_text(f"bob:{sha(SECRET_B)}\n")
    os.replace(replacement, path)
    clock.now += 1.0
    assert keys.lookup(SECRET_B) == "bob"


def test_a_broken_file_after_start_accepts_no_key_until_fixed_and_says_so_once(tmp_path, caplog):
    path = tmp_path / "keys"
    path.write_text(f"alice:{sha(SECRET_A)}\n")
    clock = Clock()
    keys = ApiKeys(path, clock=clock)
    rewrite(path, f"alice:{sha(SECRET_A)}\nbob:{SECRET_B}\n")  # a secret pasted in place of its hash
    with caplog.at_level(logging.ERROR, logger=api_keys.__name__):
        clock.now += 1
        assert keys.lookup(SECRET_A) is None  # fail closed
        clock.now += 1
        assert keys.lookup(SECRET_A) is None
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "line 2" in errors[0] and SECRET_B not in errors[0]

    rewrite(path, f"alice:{sha(SECRET_A)}\n")
    clock.now += 1
    assert keys.lookup(SECRET_A) == "alice"

    path.unlink()
    clock.now += 1
    assert keys.lookup(SECRET_A) is None


def test_a_missing_or_malformed_file_at_start_is_an_error(tmp_path):
    with pytest.raises(KeyFileError, match="cannot be read"):
        ApiKeys(tmp_path / "absent")
    (tmp_path / "bad").write_text("nonsense\n")
    with pytest.raises(KeyFileError, match="line 1"):
        ApiKeys(tmp_path / "bad")


def test_add_key_prints_a_prefixed_secret_and_stores_only_its_hash(tmp_path):
    path = tmp_path / "keys"
    secret = add_key(path, "alice")
    assert secret.startswith("bsk_") and len(secret) >= 40
    assert path.read_text() == f"alice:{sha(secret)}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ApiKeys(path).lookup(secret) == "alice"
    assert add_key(path, "bob") != secret


def test_add_key_refuses_a_duplicate_or_invalid_name_and_keeps_comments(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"# production keys\nalice:{sha(SECRET_A)}")  # no final newline
    path.chmod(0o640)
    secret = add_key(path, "bob")
    assert path.read_text() == f"# production keys\nalice:{sha(SECRET_A)}\nbob:{sha(secret)}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an existing file keeps its permissions
    with pytest.raises(KeyFileError, match="already has a key named 'alice'"):
        add_key(path, "alice")
    with pytest.raises(KeyFileError, match="not a key name"):
        add_key(path, "alice:admin")
    assert [entry.name for entry in api_keys.read_entries(path)] == ["alice", "bob"]
    assert not [name for name in os.listdir(tmp_path) if name != "keys"]  # no temporary file left behind


def test_remove_key_drops_that_line_only(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"# team\nalice:{sha(SECRET_A)}\n\nbob:{sha(SECRET_B)}\n")
    remove_key(path, "alice")
    assert path.read_text() == f"# team\n\nbob:{sha(SECRET_B)}\n"
    with pytest.raises(KeyFileError, match="no key named 'alice'"):
        remove_key(path, "alice")
