"""A room's interim results on their way to its listeners: its speakers' `partial` and `partial_translation` messages.

They pass on the terms a speaker's own session keeps (gateway/partials.py, PartialResults): stable text only grows,
a partial translation only ever translates more of it, and nothing follows its utterance's transcript (which says
`revised` when it disagrees with the stable text the room was shown). Kept per speaker, since two speakers'
utterances may start at the same millisecond of their own streams, and for the newest few speakers only. Interim
results are never history: a late joiner reads finals only.
"""

from __future__ import annotations

from collections import OrderedDict

from babelstream.contracts.events import PartialTranscriptPayload, PartialTranslationPayload, TextRecognizedPayload
from babelstream.gateway.partials import PartialResults

# Speakers whose utterances a room remembers the interim state of; past it the one heard from least recently is
# forgotten (at worst its next partial is passed on without the check against what was sent before).
_SPEAKERS_KEPT = 64


class RoomPartials:
    __slots__ = ("_speakers",)

    def __init__(self) -> None:
        self._speakers: OrderedDict[str, PartialResults] = OrderedDict()

    def _of(self, speaker: str) -> PartialResults:
        results = self._speakers.get(speaker)
        if results is None:
            results = self._speakers[speaker] = PartialResults()
            if len(self._speakers) > _SPEAKERS_KEPT:
                self._speakers.popitem(last=False)
        else:
            self._speakers.move_to_end(speaker)
        return results

    def accept(self, speaker: str, payload: PartialTranscriptPayload | PartialTranslationPayload) -> bool:
        """Whether the room's listeners are shown this interim result (PartialResults' rules, per speaker)."""
        if isinstance(payload, PartialTranscriptPayload):
            return self._of(speaker).accept(payload)
        return self._of(speaker).accept_translation(payload)

    def finished(self, speaker: str, payload: TextRecognizedPayload) -> bool:
        """A speaker's transcript arrived: no interim result of its utterance follows; whether it is `revised`."""
        return self._of(speaker).finished(payload)
