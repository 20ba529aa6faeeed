"""Speculative finalisation: an utterance published at the first short pause, shown only if the pause holds.

The endpointer offers an utterance as tentative after SPECULATE_MS of silence (engines/vad/endpointer.py). The
session publishes it at once under the next segment index, so ASR and translation work while the pause goes on,
and holds back its results. Then either:
- the pause reaches MIN_SILENCE_MS: the utterance is committed (its `segment` message goes out) and the results
  held so far are sent, with the rest as they come: the wait for silence and the pipeline's work overlap;
- with EARLY_END_ON_SENTENCE, its transcript shows a finished sentence (`ends_sentence`) and the speaker has been
  quiet for EARLY_END_PAUSE_MS (the endpointer's `pause_ms`, which does not count a detector's hangover as speech):
  it is committed then, before MIN_SILENCE_MS. Either alone splits sentences: a first half can read as a sentence
  and a put-in 250 ms pause measures up to 300 ms (docs/benchmarks/interim-results.md);
- the speaker goes on: the speculation is withdrawn, its index is never used, its results are dropped, and the
  utterance continues to be cut later under a new index (so indexes a client sees may skip a number).
"""

from __future__ import annotations

import re

from babelstream.contracts.events import Event

# Words that do not end an English sentence: a transcript ending on one is a pause inside it, whatever Whisper's
# punctuation says (it likes to close a fragment with a full stop).
_OPEN_ENDINGS = frozenset(
    "a an the and or but nor to of in on at for with from by as into onto about than because if when while "
    "is are was were be been am has have had do does did will would can could should shall may might must "
    "my your his her our their its this that these those i we they he she not no very more most".split()
)
_LAST_WORD = re.compile(r"([\w']+)\W*$")


def ends_sentence(text: str, language: str) -> bool:
    """Whether a transcript reads as a finished sentence: terminal punctuation that is not an ellipsis, after a
    word that can end one. English only (the word list is English); other languages wait for the full pause."""
    stripped = text.rstrip()
    if language != "en" or not stripped or stripped[-1] not in ".?!" or stripped.endswith(("..", "…")):
        return False
    last = _LAST_WORD.search(stripped)
    return last is not None and last.group(1).lower() not in _OPEN_ENDINGS


class Speculation:
    """One tentative utterance, published and not yet committed or withdrawn."""

    __slots__ = ("end_ms", "event", "finished_sentence", "held", "index", "start_ms")

    def __init__(self, index: int, start_ms: int, end_ms: int, event: Event):
        self.index = index
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.event = event
        self.held: list[Event] = []  # its results, until it is committed
        self.finished_sentence = False  # its transcript reads as a finished sentence (ends_sentence)
