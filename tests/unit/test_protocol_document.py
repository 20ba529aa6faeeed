"""docs/protocol.md against the code that builds the server's messages (messages.py) and names their kinds
(errors.Kind), both ways: a type, a field or a kind that one has and the other lacks fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from babelstream.gateway import messages
from babelstream.gateway.errors import Kind
from tests.support.protocol_messages import built_messages

DOCUMENT = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def documented_examples() -> dict[str, dict]:
    """Each server message's JSON example, by type (`connected` for the one without a type)."""
    server_part = DOCUMENT.split("## Server → client", 1)[1]
    examples = {}
    for block in re.findall(r"```json\n(.*?)```", server_part, re.S):
        example = json.loads(block.replace("...", ""))
        examples[example.get("type", "connected")] = example
    return examples


def test_every_message_type_is_documented_and_every_documented_type_is_built():
    assert set(documented_examples()) == set(messages.TYPES) | {"connected"} == set(built_messages())


def test_each_documented_example_has_exactly_the_fields_the_code_sends():
    examples, built = documented_examples(), built_messages()
    for name, example in examples.items():
        assert set(example) == set(built[name]), name
        if "limits" in example:  # a fixed set of fields inside (stage_ms's are the stages an event went through)
            assert set(example["limits"]) == set(built[name]["limits"]), name


def test_every_kind_is_documented_and_every_documented_kind_exists():
    section = DOCUMENT.split("## Limits, kinds and close codes", 1)[1]
    table = [line for line in section.splitlines() if line.startswith("|")]
    error_kinds = {match for line in table for match in re.findall(r"^\|[^|]*\| `([a-z_]+)` \|", line)}
    warnings = re.search(r"^Kinds: (.*?)\.$", DOCUMENT, re.M | re.S).group(1)
    warning_kinds = set(re.findall(r"`([a-z_]+)` \(", warnings))
    assert error_kinds and warning_kinds
    assert error_kinds | warning_kinds == {str(kind) for kind in Kind}
    assert not error_kinds & warning_kinds
