"""AudioInputEvent (a whole recording) -> SpeechSegmentEvents, one per utterance, the last flagged is_last.

A recording with no speech still yields one empty last segment, so the chain answers "nothing was said"
instead of going quiet.
"""

from __future__ import annotations

import asyncio
import dataclasses

from babelstream.contracts.events import AudioInputPayload, Event, SpeechSegmentPayload, utc_now
from babelstream.contracts.topics import AUDIO_INGRESS
from babelstream.contracts.wav import unwrap_pcm16, wrap_pcm16
from babelstream.engines.audio import resample_pcm16
from babelstream.segmentation import PIPELINE_SAMPLE_RATE_HZ, SegmentationSettings, split


class SegmenterStage:
    name = "segmenter"
    input_topic = AUDIO_INGRESS

    def __init__(self, settings: SegmentationSettings, service: str):
        self.settings = settings
        self.service = service

    def warm_up(self) -> None:
        pass

    async def handle(self, event: Event) -> list[Event]:
        started = utc_now()
        payload = event.payload
        if not isinstance(payload, AudioInputPayload):
            raise TypeError(f"segmenter takes AudioInputEvent, got {event.event_type}")
        return await asyncio.to_thread(self._segments, event, payload, started)

    def _segments(self, event: Event, payload: AudioInputPayload, started) -> list[Event]:
        audio = unwrap_pcm16(payload.audio_bytes)
        pcm = audio.samples
        if audio.sample_rate_hz != PIPELINE_SAMPLE_RATE_HZ:
            pcm = resample_pcm16(pcm, audio.sample_rate_hz, PIPELINE_SAMPLE_RATE_HZ)
        options = payload.options
        if options.source_language is None and payload.language_hint:
            # Every other field kept: a room session's `room` and `spoken_languages` go on with its segments.
            options = dataclasses.replace(options, source_language=payload.language_hint)
        utterances = split(self.settings, pcm)
        pieces = [(u.pcm, u.start_ms, u.end_ms) for u in utterances] or [(b"", 0, 0)]
        return [
            event.derive(
                SpeechSegmentPayload(
                    audio_bytes=wrap_pcm16(piece, PIPELINE_SAMPLE_RATE_HZ),
                    sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ,
                    segment_index=index,
                    start_ms=start_ms,
                    end_ms=end_ms,
                    options=options,
                    is_last=index == len(pieces) - 1,
                    source_event_id=event.event_id,
                ),
                stage=self.name,
                service=self.service,
                started_at=started,
                id_parts=(str(index),),
            )
            for index, (piece, start_ms, end_ms) in enumerate(pieces)
        ]
