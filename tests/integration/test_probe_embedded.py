"""The probe and the stream client against the embedded platform (in-memory bus, real models), in-process."""

from __future__ import annotations

import re
import wave
from types import SimpleNamespace

import numpy as np
import pytest

from babelstream.clients import probe as probing
from babelstream.clients.stream import stream_file
from tests.support.harness import running_embedded_platform
from tests.support.speech import needs_espeak, silence, synthesize

pytestmark = [pytest.mark.models, needs_espeak]

# Frequent Spanish words; every sentence the probe speaks translates to at least one of them.
SPANISH = {
    "el", "la", "los", "las", "un", "una", "es", "está", "son", "de", "del", "en", "por", "para", "con", "que",
    "y", "mi", "su", "muy", "me", "se", "al", "a", "no", "nuestro", "nuestra", "usted", "tu", "casa", "hoy",
}


@pytest.fixture(scope="module")
async def embedded():
    async with running_embedded_platform() as address:
        yield address


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-záéíóúñü]+", text.lower()))


async def test_probe_follows_every_chain_to_its_spoken_translation(embedded):
    run = await probing.probe(probing.ProbeConfig(url=f"ws://{embedded}/ws/audio", n=5, targets=("es",)))
    figures = probing.summarize(run)
    assert figures["utterances"] == 5
    assert figures["broken_chains"] == 0, figures["broken_reasons"]
    for utterance in run.utterances:
        spanish = utterance.translations["es"]
        assert words(spanish) & SPANISH, (utterance.text, spanish)
        assert spanish.lower() != (utterance.transcript or "").lower()
        # Every chain reached the client in order: transcript, then its translation, then the audio.
        assert 0 < utterance.transcript_ms <= utterance.translation_ms["es"] <= utterance.audio_ms["es"]
        assert utterance.text_stage_ms["asr"] > 0 and "translate" in utterance.text_stage_ms
    text = figures["end_to_end_ms"]["translation"]
    assert text["n"] == 5 and text["p50"] > 0
    # The client-side end of utterance is the gateway's cut: the segment message comes back within a moment.
    assert 0 <= figures["stage_ms"]["ingress"]["p50"] < 250
    report = probing.format_report(run, figures)
    assert "broken correlation chains: 0 of 5" in report


async def test_stream_file_writes_the_spoken_translations(embedded, tmp_path, capsys):
    pcm = silence(300) + synthesize("The house is big.") + silence(900) + synthesize("I would like a cup of coffee, please.") + silence(900)
    # A 22,050 Hz stereo file: the client converts it to 16 kHz mono.
    mono = np.frombuffer(pcm, dtype="<i2")
    from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample

    resampled = np.frombuffer(float32_to_pcm16(resample(pcm16_to_float32(mono.tobytes()), 16000, 22050)), dtype="<i2")
    path = tmp_path / "talk.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(22050)
        writer.writeframes(np.repeat(resampled, 2).tobytes())
    out = tmp_path / "spoken"
    args = SimpleNamespace(
        file=str(path), to="es", language="en", url=f"ws://{embedded}/ws/audio", fast=True, out=str(out), no_speech=False
    )
    assert await stream_file(args) == 0
    # One file per sentence, named by its segment index (which may skip a withdrawn speculation's).
    written = sorted(out.glob("*.wav"), key=lambda p: int(p.name.split("-")[0]))
    assert [p.name.split("-", 1)[1] for p in written] == ["es.wav", "es.wav"], capsys.readouterr().out
    assert written[0].name == "0-es.wav"
    for file in out.glob("*.wav"):
        with wave.open(str(file)) as reader:
            assert reader.getnframes() > reader.getframerate() // 2  # at least half a second of speech
    printed = capsys.readouterr().out
    assert "casa" in printed.lower() and "complete" in printed
