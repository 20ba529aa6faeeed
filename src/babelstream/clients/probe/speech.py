"""The audio the probe sends: English sentences spoken by espeak-ng, laid out in a session's stream.

Varied text, speed and pitch; about 1 to 3 s of speech each, trimmed of espeak-ng's own leading and trailing
silence so that where the speech is in the stream is known to the millisecond.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES, duration_ms
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample, unwrap_pcm16

# Varied sentences, 3 to 11 words, no commas (espeak pauses at commas, which could split one utterance).
SENTENCES = (
    "The house is big.",
    "Good morning everyone.",
    "Where is the train station?",
    "I would like a cup of coffee please.",
    "The weather is very nice today.",
    "Please open the window.",
    "My brother lives in a small town.",
    "We need to finish this report before Friday.",
    "The children are playing in the garden.",
    "Can you help me with my bags?",
    "The meeting starts at nine in the morning.",
    "I am reading a very good book.",
    "She works at the hospital.",
    "The restaurant is closed on Monday.",
    "How much does this shirt cost?",
    "The music is too loud.",
    "We are going to the beach tomorrow.",
    "Thank you for your help.",
    "The doctor will see you now.",
    "I lost my keys again.",
    "The city is beautiful at night.",
    "Turn left at the next street.",
    "He bought a new car last week.",
    "The water is cold.",
    "Our flight leaves in two hours.",
    "The cat is sleeping on the bed.",
    "I do not understand the question.",
    "The bread is fresh.",
    "This is my favorite song.",
    "My sister speaks three languages.",
    "Please call me back tonight.",
    "The book is on the table.",
    "We had dinner with our friends.",
    "The bus is late again.",
    "The train to London leaves from platform four at nine.",
    "My grandmother makes the best apple pie in the world.",
    "Please remember to buy milk and bread on the way home.",
    "The museum is open every day except on Monday mornings.",
    "I would like to book a table for four people tonight.",
    "Our new office is on the third floor of that building.",
    "He has been learning to play the guitar for two years.",
    "She always drinks a glass of orange juice with breakfast.",
    "We spent our summer holiday in a small village by the sea.",
    "The children walked to school together in the warm sun.",
)
WORDS_PER_MINUTE = (140, 155, 170)
PITCHES = (40, 50, 60)
_SILENCE_DBFS = -40.0


@dataclass(frozen=True)
class Clip:
    text: str
    words_per_minute: int
    pitch: int
    pcm: bytes  # speech only: espeak-ng's leading and trailing silence trimmed

    @property
    def speech_ms(self) -> int:
        return duration_ms(self.pcm)


@dataclass
class Placed:
    """A clip where it sits in a session's stream: its speech spans [start_ms, end_ms)."""

    clip: Clip
    start_ms: int
    end_ms: int


def silence(ms: int) -> bytes:
    return bytes(SAMPLE_WIDTH_BYTES * (PIPELINE_SAMPLE_RATE_HZ * ms // 1000))


def lay_out(clips: list[Clip], lead_in_ms: int, pause_ms: int) -> tuple[bytes, list[Placed]]:
    """One session's audio: a lead-in of silence, then each clip followed by its pause."""
    pcm = bytearray(silence(lead_in_ms))
    placed: list[Placed] = []
    for clip in clips:
        start_ms = duration_ms(pcm)
        pcm += clip.pcm
        placed.append(Placed(clip, start_ms, start_ms + clip.speech_ms))
        pcm += silence(pause_ms)
    return bytes(pcm), placed


def trim_silence(pcm: bytes, sample_rate_hz: int = PIPELINE_SAMPLE_RATE_HZ, threshold_dbfs: float = _SILENCE_DBFS) -> bytes:
    """Cuts leading and trailing 10 ms windows quieter than the threshold."""
    samples = pcm16_to_float32(pcm)
    window = sample_rate_hz // 100
    count = samples.size // window
    if count == 0:
        return pcm
    rms = np.sqrt(np.mean(np.square(samples[: count * window].reshape(count, window), dtype=np.float64), axis=1))
    loud = np.nonzero(rms > 10 ** (threshold_dbfs / 20))[0]
    if loud.size == 0:
        return b""
    return pcm[loud[0] * window * SAMPLE_WIDTH_BYTES : (loud[-1] + 1) * window * SAMPLE_WIDTH_BYTES]


class SpeechCache:
    """espeak-ng speech made on demand, once per (text, speed, pitch)."""

    def __init__(self) -> None:
        if shutil.which("espeak-ng") is None:
            raise RuntimeError("the probe speaks with espeak-ng, which is not installed (apt-get install espeak-ng)")
        self._clips: dict[tuple[str, int, int], Clip] = {}

    def clip(self, text: str, words_per_minute: int, pitch: int) -> Clip:
        key = (text, words_per_minute, pitch)
        if key not in self._clips:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "speech.wav"
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-p", str(pitch), "-w", str(path), text],
                    check=True,
                    capture_output=True,
                )
                pcm, rate = unwrap_pcm16(path.read_bytes())
            pcm = float32_to_pcm16(resample(pcm16_to_float32(pcm), rate, PIPELINE_SAMPLE_RATE_HZ))
            self._clips[key] = Clip(text, words_per_minute, pitch, trim_silence(pcm))
        return self._clips[key]


def speaker_script(rng: random.Random):
    """An endless, shuffled stream of (text, speed, pitch) for one speaker."""
    while True:
        order = list(SENTENCES)
        rng.shuffle(order)
        for text in order:
            yield text, rng.choice(WORDS_PER_MINUTE), rng.choice(PITCHES)
