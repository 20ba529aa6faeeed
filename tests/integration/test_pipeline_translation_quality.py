"""Speech in, translated text out, scored: a regression anywhere from the endpointer through Whisper to the
translation router lowers the chrF of what comes back.

The spoken-sentence set is chosen from the translation reference set by a rule fixed before any score was
seen: English sentences of 5 to 12 words without digits (a spoken "seven forty-five" cannot match a written
"7:45"), every third one — 26 sentences from all five domains. They are spoken by piper's neural voice,
streamed through the whole embedded platform at four times real time, and the Spanish that comes back is
scored with sacrebleu against the references.
"""

from __future__ import annotations

import re

import pytest
import sacrebleu

from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample
from babelstream.engines.tts.piper import PiperSynthesizer
from bench.translation_data import load_reference_set
from tests.support.harness import frames_of, running_embedded_platform, stream
from tests.support.speech import corpus_wer, silence

pytestmark = pytest.mark.models

RATE = 16_000
SESSION_SENTENCES = 9  # about 35 s of speech: inside MAX_SESSION_SECONDS
# Measured through the pipeline: 63.4-65.1 with tiny.en, 64.1-64.5 with base (the same sentences as text: 67.1;
# docs/benchmarks/translation-quality.md); the floor sits a few points under, so a real regression fails it.
CHRF_FLOOR = 60.0
WER_CEILING = 0.10


def spoken_sentence_set():
    candidates = [s for s in load_reference_set() if 5 <= len(s["en"].split()) <= 12 and not re.search(r"\d", s["en"])]
    return candidates[::3]


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


async def test_english_speech_translated_to_spanish_keeps_its_chrf(embedded):
    sentences = spoken_sentence_set()
    assert len(sentences) == 26
    piper = PiperSynthesizer()
    transcripts, translations = [], []
    for start in range(0, len(sentences), SESSION_SENTENCES):
        session = sentences[start : start + SESSION_SENTENCES]
        pcm = silence(300)
        for sentence in session:
            speech = piper.synthesize(sentence["en"], "en")
            pcm += float32_to_pcm16(resample(pcm16_to_float32(speech.pcm), speech.sample_rate_hz, RATE)) + silence(900)
        talk = await stream(
            embedded,
            frames_of(pcm),
            # A recording sent four times faster than real time: a batch session (MAX_BATCH_AUDIO_SPEED).
            start={"event": "start", "mode": "batch", "language": "en", "targets": ["es"], "synthesize": False},
            pace_seconds=0.005,
        )
        assert talk.close_code == 1000, talk.messages[-3:]
        heard = talk.of_type("transcript")
        assert len(heard) == len(session), [t["text"] for t in heard]
        transcripts += [t["text"] for t in heard]
        by_segment = {m["segment_index"]: m for m in talk.of_type("translation")}
        translations += [by_segment[t["segment_index"]] for t in heard]
    wer = corpus_wer([(s["en"], text) for s, text in zip(sentences, transcripts)])
    print(f"\nWER of the English transcripts: {wer:.3f}")
    assert wer <= WER_CEILING
    assert {(m["engine"], m["via"]) for m in translations} == {("bergamot+apertium", "pt")}
    chrf = sacrebleu.corpus_chrf([m["text"] for m in translations], [[s["es"] for s in sentences]]).score
    print(f"\nen->es through the pipeline: chrF {chrf:.1f} on {len(sentences)} spoken sentences")
    assert chrf >= CHRF_FLOOR, list(zip(transcripts, [m["text"] for m in translations]))
