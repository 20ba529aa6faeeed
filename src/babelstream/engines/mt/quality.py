"""Measured translation quality per path: the table the router ranks paths by.

The table ships with the package (`quality_table.json`, written by `bench/translation_quality.py --write`
from the team's reference set); an operator who adds engines or models re-measures with the same command and
points `MT_QUALITY_TABLE` at the result. A path is keyed by its languages *and* its engines: a score
measured with Apertium says nothing about an OPUS-MT model serving the same pair.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

SHIPPED_TABLE = Path(__file__).with_name("quality_table.json")


class InvalidQualityTable(ValueError):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path} is not a translation quality table: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class PathScore:
    path: str  # "en>pt>es"
    engines: str  # "bergamot+apertium": one engine per hop
    chrf: float  # sacrebleu corpus chrF (chrF2)
    bleu: float  # sacrebleu corpus BLEU (13a tokenisation)
    sentences: int
    p50_ms: float | None = None  # median time per sentence on the measuring machine

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.path.split(">"))


def path_key(languages: Sequence[str], engines: Sequence[str]) -> tuple[str, str]:
    return ">".join(languages), "+".join(engines)


class QualityTable:
    def __init__(self, scores: Iterable[PathScore] = (), *, reference: str = "", metric: str = "", measured: str = ""):
        self._scores = {(score.path, score.engines): score for score in scores}
        self.reference = reference
        self.metric = metric
        self.measured = measured

    @classmethod
    def load(cls, path: Path = SHIPPED_TABLE) -> QualityTable:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
            scores = [PathScore(**entry) for entry in document["paths"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InvalidQualityTable(Path(path), str(error)) from error
        return cls(scores, reference=document.get("reference", ""), metric=document.get("metric", ""),
                   measured=document.get("measured", ""))

    def save(self, path: Path) -> None:
        document = {
            "reference": self.reference,
            "metric": self.metric,
            "measured": self.measured,
            "paths": [asdict(score) for score in sorted(self._scores.values(), key=lambda s: (s.path, s.engines))],
        }
        Path(path).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def score(self, languages: Sequence[str], engines: Sequence[str]) -> PathScore | None:
        return self._scores.get(path_key(languages, engines))

    def scores(self) -> list[PathScore]:
        return list(self._scores.values())
