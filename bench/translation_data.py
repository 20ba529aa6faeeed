"""The team's multi-way reference set (bench/data/translation/sentences.txt): one English sentence per block
with its Spanish, Brazilian Portuguese, Catalan and French renderings, written by hand (see the README there).

Every direction between two of its languages reads the same blocks: the source column is the input, the
target column the reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data" / "translation"
SENTENCES = DATA_DIR / "sentences.txt"
LANGUAGES = ("en", "es", "pt", "ca", "fr")
DOMAINS = ("conversation", "lecture", "travel", "news", "instructions")

_HEADER = re.compile(r"^\[(\d{3})\] (\w+) \| keep:(.*)$")
_LINE = re.compile(r"^([a-z]{2}): (.+)$")


class ReferenceSetError(ValueError):
    """The reference file is malformed: says which line and why."""


@dataclass(frozen=True)
class ReferenceSentence:
    id: str
    domain: str
    keep: tuple[str, ...]  # names and numbers every rendering carries unchanged
    text: dict[str, str]  # language -> sentence

    def __getitem__(self, language: str) -> str:
        return self.text[language]


def load_reference_set(path: Path = SENTENCES) -> list[ReferenceSentence]:
    sentences: list[ReferenceSentence] = []
    current: dict | None = None

    def finish() -> None:
        if current is None:
            return
        missing = [language for language in LANGUAGES if language not in current["text"]]
        if missing:
            raise ReferenceSetError(f"{path}: block {current['id']} lacks {', '.join(missing)}")
        sentences.append(ReferenceSentence(current["id"], current["domain"], current["keep"], current["text"]))

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        header = _HEADER.match(line)
        if header:
            finish()
            keep = tuple(token.strip() for token in header.group(3).split(",") if token.strip())
            if header.group(2) not in DOMAINS:
                raise ReferenceSetError(f"{path}:{number}: unknown domain {header.group(2)!r}")
            current = {"id": header.group(1), "domain": header.group(2), "keep": keep, "text": {}}
            continue
        entry = _LINE.match(line)
        if entry is None or current is None or entry.group(1) not in LANGUAGES:
            raise ReferenceSetError(f"{path}:{number}: expected '[id] domain | keep: ...' or 'xx: text', got {line!r}")
        if entry.group(1) in current["text"]:
            raise ReferenceSetError(f"{path}:{number}: {entry.group(1)} given twice in block {current['id']}")
        current["text"][entry.group(1)] = entry.group(2).strip()
    finish()
    return sentences
