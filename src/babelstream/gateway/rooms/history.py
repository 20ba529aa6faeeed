"""A room's recent utterances, as text: what a listener who arrives late reads first.

Each utterance keeps its transcript and one translation per language; only the newest `size` are kept. Spoken
audio is not kept: a late joiner is shown what was said, it is not played a backlog of speech.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from babelstream.contracts.events import Event, TextRecognizedPayload, TextTranslatedPayload


@dataclass
class _Utterance:
    transcript: Event | None = None
    translations: dict[str, Event] = field(default_factory=dict)


class RoomHistory:
    def __init__(self, size: int):
        self._size = size
        self._utterances: OrderedDict[tuple[str, int], _Utterance] = OrderedDict()

    def add(self, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload, (TextRecognizedPayload, TextTranslatedPayload)) or self._size <= 0:
            return
        if isinstance(payload, TextRecognizedPayload) and not payload.text:
            return  # no speech in that segment: nothing to read
        key = (event.correlation_id, payload.segment_index)
        utterance = self._utterances.get(key)
        if utterance is None:
            utterance = self._utterances[key] = _Utterance()
            while len(self._utterances) > self._size:
                self._utterances.popitem(last=False)
        if isinstance(payload, TextRecognizedPayload):
            utterance.transcript = event
        else:
            utterance.translations[payload.target_language] = event

    def for_language(self, language: str | None) -> list[Event]:
        """Oldest first: each utterance's transcript, then its translation into `language` if there is one."""
        events: list[Event] = []
        for utterance in self._utterances.values():
            if utterance.transcript is not None:
                events.append(utterance.transcript)
            translation = utterance.translations.get(language) if language else None
            if translation is not None:
                events.append(translation)
        return events

    def clear(self) -> None:
        self._utterances.clear()

    def __len__(self) -> int:
        return len(self._utterances)
