"""LocalAgreement-2: which words of a growing utterance's decodes are stable.

Each decode covers the utterance from its start to the newest audio. A word becomes stable once two consecutive
decodes agree on it and on every word before it (compared case- and punctuation-blind: "in," and "In" agree),
and it is not the last word of the newer decode (which the end of the audio may have cut short).
The stable prefix only grows: a later decode that disagrees with it does not take a word back. Stable words stand
for the first words of every later decode, position for position: when two decodes agree with each other but not
with the stable words ("We walked along" after "We walk to" was made stable), their words past as many positions
become stable after them, so one early mistake does not freeze the caption (the final transcript then says
`revised`). This is the rule of Macháček et al., "Turning Whisper into Real-Time Transcription System"
(2023, whisper_streaming), on whole-utterance decodes; docs/protocol.md states it for clients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PUNCTUATION = re.compile(r"[^\w']+")
_UNSETTLED_WORDS = 1  # the newest decode's last word, never made stable by it


def word_key(word: str) -> str:
    """What two decodes must share for a word to agree: its letters and digits, lower case."""
    return _PUNCTUATION.sub("", word.lower())


def words_of(text: str) -> list[str]:
    return [word for word in text.split() if word_key(word)] if text else []


@dataclass(frozen=True)
class Agreement:
    stable: str  # every stable word, spelt as by the decode that made it stable
    unstable: str  # the newest decode's words past the stable ones, with a leading space when there are any
    grew: bool  # this decode made more words stable


class LocalAgreement:
    """The state of one utterance: its stable words and its previous decode."""

    __slots__ = ("_previous", "_stable")

    def __init__(self) -> None:
        self._stable: list[str] = []
        self._previous: list[str] = []

    @property
    def stable_text(self) -> str:
        return " ".join(self._stable)

    @property
    def stable_count(self) -> int:
        return len(self._stable)

    def drop_front(self, words: int) -> str:
        """Forget the first `words` stable words (their audio is no longer decoded: the caller keeps them) and
        return them; later decodes are then compared from the word after."""
        dropped = self._stable[:words]
        del self._stable[:words]
        del self._previous[:words]
        return " ".join(dropped)

    def update(self, decoded_text: str) -> Agreement:
        words = words_of(decoded_text)
        keys = [word_key(word) for word in words]
        previous = [word_key(word) for word in self._previous]
        agreed = 0
        for key, before in zip(keys[:-_UNSETTLED_WORDS], previous):
            if key != before:
                break
            agreed += 1
        grew = agreed > len(self._stable)
        if grew:
            self._stable.extend(words[len(self._stable) : agreed])
        self._previous = words
        # A decode that disagrees with the stable words still shows only what lies past as many words: its own
        # version of them is not shown, since stable words are never retracted.
        tail = words[len(self._stable) :]
        return Agreement(self.stable_text, (" " + " ".join(tail)) if tail else "", grew)


def agrees_with(final_text: str, stable_text: str) -> bool:
    """Whether a final transcript begins with the stable words already sent (case- and punctuation-blind)."""
    stable = [word_key(word) for word in words_of(stable_text)]
    final = [word_key(word) for word in words_of(final_text)]
    return final[: len(stable)] == stable
