"""Speech made at test time and the assertions every end-to-end pipeline test shares (embedded and Kafka)."""

from __future__ import annotations

import base64
import io
import wave
from collections import Counter

from tests.support.harness import Conversation, frames_of, stream
from tests.support.speech import corpus_wer, silence, synthesize

# Sentences tiny.en hears well from espeak-ng, each with Spanish words Apertium must produce.
UTTERANCES = [
    ("The house is big.", {"casa", "grande"}),
    ("I would like a cup of coffee, please.", {"café"}),
]
PAUSE_MS = 900


def talk_pcm(utterances=UTTERANCES, pause_ms: int = PAUSE_MS) -> bytes:
    pcm = silence(300)
    for text, _ in utterances:
        pcm += synthesize(text) + silence(pause_ms)
    return pcm


async def speak(address: str, targets=("es",), utterances=UTTERANCES, on_message=None,
                **start) -> tuple[Conversation, list[float]]:
    """Streams the utterances at real-time pace; returns the conversation and when (seconds after the first
    frame) the client finished sending audio, plus arrival times of messages, to check liveness. `on_message` is
    also called with each message as it arrives."""
    import time

    arrivals: list[tuple[float, dict]] = []
    began = time.monotonic()
    talk = await stream(
        address,
        frames_of(talk_pcm(utterances)),
        start={"event": "start", "language": "en", "targets": list(targets), **start},
        pace_seconds=0.02,
        on_message=lambda message: (arrivals.append((time.monotonic() - began, message)),
                                    on_message and on_message(message)),
    )
    return talk, arrivals


def check_translated_talk(talk: Conversation, targets=("es",), utterances=UTTERANCES) -> None:
    assert talk.close_code == 1000, talk.messages[-3:]
    transcripts = talk.of_type("transcript")
    assert len(transcripts) == len(utterances), [t["text"] for t in transcripts]
    # No segment shown twice, in order.
    assert [t["segment_index"] for t in transcripts] == sorted({t["segment_index"] for t in transcripts})
    heard = [(text, said["text"]) for (text, _), said in zip(utterances, transcripts)]
    assert corpus_wer(heard) <= 0.10, heard
    for target in targets:
        translations = [m for m in talk.of_type("translation") if m["target_language"] == target]
        assert len(translations) == len(utterances)
        if target == "es":
            for (_, expected), translation in zip(utterances, translations):
                words = set(translation["text"].lower().replace(".", " ").replace(",", " ").split())
                assert expected & words, (expected, translation["text"])
        audio = [m for m in talk.of_type("audio") if m["language"] == target]
        assert len(audio) == len(utterances)
        for clip in audio:
            with wave.open(io.BytesIO(base64.b64decode(clip["audio_b64"]))) as wav:
                assert wav.getnframes() / wav.getframerate() > 0.3
    results = [m for m in talk.messages if m.get("type") in ("transcript", "translation", "audio")]
    counts = Counter(m["event_id"] for m in results)
    assert max(counts.values()) == 1, "a result reached the client twice"
    summary = talk.of_type("summary")[0]
    assert summary["complete"] and summary["missing_segments"] == []
