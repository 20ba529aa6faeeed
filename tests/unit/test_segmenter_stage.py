"""The segmenter stage: a whole recording in, one segment per utterance out, each carrying the session's options."""

from __future__ import annotations

import asyncio

from babelstream.contracts.events import AudioInputPayload, Event, SessionOptions
from babelstream.contracts.wav import wrap_pcm16
from babelstream.segmentation import SegmentationSettings
from babelstream.stages.segmenter import SegmenterStage


def test_a_language_hint_becomes_the_source_language_and_every_other_option_is_kept():
    options = SessionOptions(target_languages=("es", "pt"), synthesize=True, reply_to="gateway-1", room="aula",
                             spoken_languages=("pt",))
    recording = Event(AudioInputPayload(audio_bytes=wrap_pcm16(b"\0" * 32000, 16000), sample_rate_hz=16000,
                                        language_hint="es", options=options), correlation_id="c-1", source_service="t")
    segments = asyncio.run(SegmenterStage(SegmentationSettings(), "segmenter-test").handle(recording))
    assert segments and segments[-1].payload.is_last
    for segment in segments:
        got = segment.payload.options
        assert got.source_language == "es"
        assert (got.target_languages, got.room, got.spoken_languages, got.reply_to) == (
            ("es", "pt"), "aula", ("pt",), "gateway-1")
