"""docs/architecture.md's table of environment variables against the settings classes, both ways."""

from __future__ import annotations

import re
from pathlib import Path

from babelstream.settings import Settings

DOCUMENT = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()


def documented() -> dict[str, tuple[str, str]]:
    """variable -> (default as documented, component), from the configuration table."""
    section = DOCUMENT.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([A-Z0-9_]+)`", cells[0])
        defaults = [part.strip() for part in cells[1].split(" / ")]
        for position, name in enumerate(names):
            rows[name] = (defaults[position] if len(defaults) == len(names) else cells[1], cells[2])
    return rows


def settings_fields() -> dict[str, object]:
    return {
        name.upper(): field.default
        for settings_class in Settings.classes().values()
        for name, field in settings_class.model_fields.items()
    }


def test_every_setting_is_documented_and_every_documented_variable_is_a_setting():
    assert set(documented()) == set(settings_fields())


def test_each_documented_default_is_the_settings_default():
    rows = documented()
    for name, default in settings_fields().items():
        written = rows[name][0].strip("`")
        if isinstance(default, tuple):
            shown = ",".join(default) if default else "empty"
        elif isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, float) and default.is_integer():
            shown = str(int(default))
        elif isinstance(default, Path):
            shown = str(default).replace(str(Path.home()), "~")
        elif default is None or default == "":
            shown = "empty"
        else:
            shown = str(default)
        assert written.split(" ")[0].replace(",", "") == shown.replace(",", ""), (name, written, shown)
