"""One server message of every type, as messages.py builds it: what the protocol documents and the proto are checked
against."""

from __future__ import annotations

from babelstream.contracts.events import (
    AudioSynthesisPayload,
    Event,
    PartialTranscriptPayload,
    PartialTranslationPayload,
    SessionOptions,
    TextRecognizedPayload,
    TextTranslatedPayload,
)
from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.stream_limits import StreamLimits

OPTIONS = SessionOptions("en", ("es",), True, "gateway-test")


def built_messages() -> dict[str, dict]:
    """One message of every type, as messages.py builds it."""
    segment = dict(segment_index=0, start_ms=0, end_ms=3120, options=OPTIONS)
    transcript = TextRecognizedPayload(text="The house is big.", language="en", confidence=0.8, **segment)
    translation = TextTranslatedPayload(
        text="La casa es grande.", source_text="The house is big.", source_language="en", target_language="es",
        engine="apertium", **segment,
    )
    audio = AudioSynthesisPayload(
        audio_bytes=b"RIFF", sample_rate_hz=22050, duration_ms=1505, voice="es", engine="espeak-ng", language="es",
        text="La casa es grande.", segment_index=0,
    )

    def result(payload) -> dict:
        return messages.result(Event(payload=payload, correlation_id="c", source_service="s"), 1.0)

    return {
        "connected": messages.connected("c", resume_token="v1.c.1764450000.1764453900.c2lnbmF0dXJl"),
        "resumed": messages.resumed(
            "c", "v1.c.1764450000.1764453960.c2lnbmF0dXJl", next_segment=4, published_ms=9200, audio_ms=9200,
            replayed=3,
        ),
        "ready": messages.ready("live", 48000, OPTIONS, StreamLimits(200, 1.5, 10, 96_000), 60),
        "warning": messages.warning(
            Kind.UNSUPPORTED_PAIR, "no engine", source_language="en", target_language="ja", available=[]
        ),
        "segment": messages.segment(0, 0, 3120, "e"),
        "partial": messages.partial(PartialTranscriptPayload(
            stable_text="This is Diane in", unstable_text=" New Jersey and", language="en", segment_index=3,
            start_ms=10570, end_ms=13020, options=OPTIONS,
        )),
        "partial_translation": messages.partial_translation(PartialTranslationPayload(
            text="Esta es Diane en", source_text="This is Diane in", source_language="en", target_language="es",
            segment_index=3, start_ms=10570, end_ms=13020, options=OPTIONS, engine="apertium",
        )),
        "transcript": result(transcript),
        "translation": result(translation),
        "audio": result(audio),
        "ack": messages.ack("c", ["e1", "e2"], live=True, received_bytes=10),
        "summary": messages.summary(
            "c", complete=True, segments=2,
            counts={"transcripts": 2, "translations": 4, "audio": 4, "warnings": 0}, missing=[],
        ),
        "error": messages.error(SessionEnded(CloseCode.MESSAGE_TOO_BIG, "too big", kind=Kind.FRAME_TOO_LARGE)),
        "listening": messages.listening("aula-1", "pt", voice=True, audio="opus", partials=True, history=4),
        "audience": messages.audience("aula-1", languages={"es": 2, "pt": 1}, speakers=1),
    }
