"""The test suite's own layout: shared helpers live in tests/support, and no test module imports another."""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_imports_another_test_module():
    offenders = []
    for path in TESTS.rglob("*.py"):
        text = path.read_text()
        if re.search(r"^\s*(from|import) tests\.(unit|integration|e2e)\b", text, re.M):
            offenders.append(str(path.relative_to(TESTS)))
    assert offenders == []


def test_every_tier_folder_holds_only_tests():
    for tier in ("unit", "integration", "e2e"):
        names = {p.name for p in (TESTS / tier).glob("*.py")} - {"__init__.py", "conftest.py"}
        assert all(name.startswith("test_") for name in names), (tier, sorted(names))
