"""Non-speech audio made at test time: coloured noise and synthetic music (nothing here is a recording).

Music is a small arrangement built from what makes music hard for a speech recogniser: sustained harmonic
tones in the voice's frequency range (a melody over triads, each note with overtones and an envelope), a
bass line, and percussion (noise bursts) on the beat.
"""

from __future__ import annotations

import numpy as np

from babelstream.engines.audio import float32_to_pcm16

SAMPLE_RATE_HZ = 16_000


def _scaled(samples: np.ndarray, level_dbfs: float) -> bytes:
    rms = float(np.sqrt(np.mean(samples**2))) or 1.0
    return float32_to_pcm16((samples * (10 ** (level_dbfs / 20) / rms)).clip(-1, 1).astype(np.float32))


def coloured_noise(ms: int, exponent: float, level_dbfs: float = -25.0, seed: int = 0) -> bytes:
    """Power falling as 1/f**exponent: 0 white, 1 pink (rain, fans), 2 brown (rumble, traffic)."""
    count = SAMPLE_RATE_HZ * ms // 1000
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(size=count))
    frequencies = np.fft.rfftfreq(count, 1 / SAMPLE_RATE_HZ)
    frequencies[0] = frequencies[1]
    return _scaled(np.fft.irfft(spectrum / frequencies ** (exponent / 2), n=count), level_dbfs)


def _note(frequency: float, seconds: float, overtones: int = 5) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE_HZ * seconds)) / SAMPLE_RATE_HZ
    tone = sum(np.sin(2 * np.pi * frequency * k * t) / k**1.5 for k in range(1, overtones + 1))
    attack = np.minimum(1.0, t / 0.02)
    decay = np.exp(-2.5 * t / seconds)
    return tone * attack * decay


def music(ms: int, level_dbfs: float = -18.0, tempo_bpm: int = 110, seed: int = 0) -> bytes:
    """A I-vi-IV-V progression in C with a random melody over it, bass, and a beat."""
    rng = np.random.default_rng(seed)
    beat = 60 / tempo_bpm
    total = SAMPLE_RATE_HZ * ms // 1000
    out = np.zeros(total + SAMPLE_RATE_HZ * 2)
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    scale = [261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3, 587.3, 659.3]
    position, bar = 0, 0
    while position < total:
        chord = chords[bar % len(chords)]
        bar_samples = int(4 * beat * SAMPLE_RATE_HZ)
        pad = sum(_note(f, 4 * beat, overtones=3) for f in chord) * 0.25
        out[position : position + pad.size] += pad
        bass = _note(chord[0] / 2, 4 * beat, overtones=4) * 0.5
        out[position : position + bass.size] += bass
        for step in range(8):  # eighth notes
            start = position + int(step * beat / 2 * SAMPLE_RATE_HZ)
            if rng.random() < 0.8:
                melody = _note(float(rng.choice(scale)) * 2, beat / 2) * 0.45
                out[start : start + melody.size] += melody
            if step % 2 == 0:  # kick-like thump and a hi-hat on every beat
                t = np.arange(int(0.12 * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
                kick = np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.04) * 0.9
                hat = rng.normal(size=int(0.03 * SAMPLE_RATE_HZ)) * np.exp(-np.arange(int(0.03 * SAMPLE_RATE_HZ)) / 80) * 0.2
                out[start : start + kick.size] += kick
                out[start : start + hat.size] += hat
        position += bar_samples
        bar += 1
    return _scaled(out[:total], level_dbfs)
