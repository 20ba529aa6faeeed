"""Apertium (rule-based MT from Debian) behind long-lived, NUL-flushed pipelines: one per pair.

Starting a pair's pipeline costs ~0.1 s (a dozen processes load their transducers), so each pair's
processes stay up and every sentence is one NUL-terminated block written to the first stage and
read back from the last one.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import select
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationFailed,
    UnsupportedPair,
    normalize_language,
)

_LOGGER = logging.getLogger(__name__)

MODES_DIR = Path("/usr/share/apertium/modes")
DEFAULT_TIMEOUT_S = 10.0

# "eng-spa", "es-pt", "spa-cat_valencia"; debug or odd modes ("eco-es-fr", "eng-spa-tagger") don't match.
_MODE_NAME = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})(?:_(\w+))?$")

# The languages of the Apertium pairs Debian packages; others keep their 3-letter code.
_ISO_639_3_TO_1 = {
    "afr": "af", "arg": "an", "bel": "be", "bre": "br", "bul": "bg", "cat": "ca", "dan": "da",
    "deu": "de", "eng": "en", "epo": "eo", "eus": "eu", "fra": "fr", "glg": "gl", "hbs": "sh",
    "hin": "hi", "ind": "id", "isl": "is", "ita": "it", "mkd": "mk", "msa": "ms", "nld": "nl",
    "nno": "nn", "nob": "nb", "nor": "no", "oci": "oc", "pol": "pl", "por": "pt", "ron": "ro",
    "rus": "ru", "slv": "sl", "spa": "es", "srd": "sc", "swe": "sv", "ukr": "uk", "urd": "ur",
    "zlm": "ms",
}

# Characters with a meaning in Apertium's stream format: escaped so user text stays text.
_STREAM_RESERVED = frozenset("\\^$/@<>{}[]")
# In the output: an escaped character (kept, unescaped) or an unknown-word mark (dropped):
# '*' not in the dictionary, '@' no bilingual entry, '#' could not be generated.
_ESCAPE_OR_MARK = re.compile(r"\\(.)|[*#@](?=\w)", re.DOTALL)
# A word the analyser did not know, copied through untranslated ("*carregador"): the router backs these off.
_UNKNOWN_WORD = re.compile(r"(?<![\\\w])\*(\w[\w'-]*)")
# One analysed unit of lt-proc's output: ^surface/analysis/analysis$
_ANALYSED_UNIT = re.compile(r"\^((?:\\.|[^/$\\])*)/((?:\\.|[^$\\])*)\$")
# People's names (anthroponyms, surnames) in Apertium's tags. A word that can also be a place ("London" reads
# as both) is left to the engines: places have exonyms ("Londres"), people keep their names.
_PERSON_TAGS = ("<np><ant>", "<np><cog>")
_PLACE_TAGS = ("<np><loc>", "<np><top>")
# lt-proc -b only flushes a block once it sees a blank after the last word, so every block ends with one.
_BLOCK_END = b" \0"
# Written whole before the answer is read: far below what the stages' pipe buffers hold, so no deadlock.
MAX_TEXT_BYTES = 64 * 1024
# lt-proc's generation with unknown-word marks kept (`apertium` without -u): the marks say which words
# were copied through untranslated; clean_output drops them.
_GENERATION_FLAG = "-g"


@dataclass(frozen=True)
class ApertiumMode:
    source: str
    target: str
    name: str  # "eng-spa"
    path: Path


def to_iso639_1(code: str) -> str:
    return _ISO_639_3_TO_1.get(code, code)


# The variant a target language is served in when a pair has one: the platform's Portuguese is Brazilian
# (Bergamot's), and es->pt_BR measured 67.2 chrF against 66.1 for es->pt on the Brazilian references
# (docs/benchmarks/translation-quality.md).
PREFERRED_VARIANTS = {"pt": "BR"}


def _preference(path: Path) -> tuple[int, str]:
    """Lower sorts first: a preferred variant, then the plain mode, then any other variant."""
    match = _MODE_NAME.match(path.stem)
    if match and match.group(3) and PREFERRED_VARIANTS.get(to_iso639_1(match.group(2))) == match.group(3):
        return 0, path.stem
    return (2 if "_" in path.stem else 1), path.stem


def discover_modes(modes_dir: Path = MODES_DIR) -> dict[LanguagePair, ApertiumMode]:
    """One mode per pair: a preferred variant ("es-pt_BR"), else the plain one ("spa-eng") over a variant."""
    modes: dict[LanguagePair, ApertiumMode] = {}
    candidates = sorted(modes_dir.glob("*.mode"), key=_preference)
    for path in candidates:
        match = _MODE_NAME.match(path.stem)
        if not match:
            continue
        pair = (to_iso639_1(match.group(1)), to_iso639_1(match.group(2)))
        if pair[0] != pair[1]:
            modes.setdefault(pair, ApertiumMode(pair[0], pair[1], path.stem, path))
    return modes


def pipeline_commands(mode_text: str) -> list[list[str]]:
    """The mode file's shell pipeline as argv lists, every stage switched to NUL-flush (-z)."""
    lexer = shlex.shlex(mode_text, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    stages: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            stages.append([])
        else:
            stages[-1].append(token)
    commands = []
    for stage in stages:
        argv = [_GENERATION_FLAG if arg == "$1" else arg for arg in stage if arg != "$2"]
        if not argv:
            raise ValueError(f"empty stage in Apertium mode pipeline: {mode_text!r}")
        if "-z" not in argv:
            argv.insert(1, "-z")
        commands.append(argv)
    return commands


def escape_for_stream(text: str) -> bytes:
    plain = " ".join(text.replace("\0", " ").split())  # newlines and control characters become blanks
    escaped = "".join("\\" + char if char in _STREAM_RESERVED else char for char in plain)
    return escaped.encode("utf-8") + _BLOCK_END


def clean_output(block: bytes) -> str:
    text = _ESCAPE_OR_MARK.sub(lambda match: match.group(1) or "", block.decode("utf-8", errors="replace"))
    return " ".join(text.split())


def unknown_words(block: bytes) -> tuple[str, ...]:
    """The words the pipeline copied through because its dictionary lacks them, in order."""
    return tuple(_UNKNOWN_WORD.findall(block.decode("utf-8", errors="replace")))


@dataclass(frozen=True)
class ProperNouns:
    people: frozenset[str]  # single capitalised words that are surely a person's name (below)
    places: frozenset[str]  # ... that can be read as a place


def proper_nouns_in_analysis(analysis: str) -> ProperNouns:
    """From lt-proc's analysis. A word is a person's name when it reads as one (<np><ant>, <np><cog>), never as a
    place, and either reads only as a proper noun ("Peter") or, inside a sentence, as a noun that is
    capitalised there ("la Marta": also a marten). Not "Plants" (a plant, and the surname Plant) opening a
    sentence, nor "Roman" (an English adjective), nor "London" or "Paris" (places too)."""
    people, places = set(), set()
    at_start = True
    for surface, readings in _ANALYSED_UNIT.findall(analysis):
        starts_sentence, at_start = at_start, "<sent>" in readings
        if " " in surface or not surface[:1].isupper():
            continue
        analyses = readings.split("/")
        if any(tag in readings for tag in _PLACE_TAGS):
            places.add(surface)
        elif any(tag in readings for tag in _PERSON_TAGS):
            only_proper = all(reading.split("<", 1)[-1].startswith("np>") for reading in analyses)
            capitalised_noun = not starts_sentence and "<adj>" not in readings
            if only_proper or capitalised_noun:
                people.add(surface)
    return ProperNouns(frozenset(people), frozenset(places))


def analyser_command(mode_text: str) -> list[str]:
    """The mode's first stage: lt-proc with the source language's morphological analyser."""
    first = pipeline_commands(mode_text)[0]
    if first[0] != "lt-proc" or not first[-1].endswith(".automorf.bin"):
        raise ValueError(f"the mode does not start with a morphological analyser: {first}")
    return first


class _PipelineDied(Exception):
    pass


class ApertiumPipeline:
    """The processes of one pair's mode, chained by pipes; one sentence at a time (a lock)."""

    def __init__(self, mode: ApertiumMode, timeout_s: float = DEFAULT_TIMEOUT_S, commands: list[list[str]] | None = None):
        """commands: run these instead of the mode's pipeline (the analyser alone, say)."""
        self.mode = mode
        self.timeout_s = timeout_s
        self._commands = commands
        self._lock = threading.Lock()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)

    def pids(self) -> tuple[int, ...]:
        return tuple(process.pid for process in self._processes)

    def translate(self, text: str) -> str:
        return clean_output(self.raw(text))

    def raw(self, text: str) -> bytes:
        """The last stage's answer as it is: stream escapes and unknown-word marks included."""
        block = escape_for_stream(text)
        if len(block) > MAX_TEXT_BYTES:
            raise TranslationFailed("apertium", f"text of {len(block)} bytes is over {MAX_TEXT_BYTES}; send sentences")
        with self._lock:
            try:
                return self._round_trip(block)
            except _PipelineDied:
                # A stage crashed or was killed since the last sentence: one fresh start, then give up.
                _LOGGER.warning("apertium %s pipeline died; restarting", self.mode.name)
                self._stop()
                try:
                    return self._round_trip(block)
                except _PipelineDied as error:
                    self._stop()
                    raise TranslationFailed("apertium", f"{self.mode.name} pipeline died twice: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _round_trip(self, block: bytes) -> bytes:
        if not self._alive():
            self._stop()
            self._start()
        first, last = self._processes[0], self._processes[-1]
        assert first.stdin is not None and last.stdout is not None
        try:
            first.stdin.write(block)
            first.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise _PipelineDied(f"write failed: {error}") from error
        return self._read_block(last.stdout.fileno())

    def _read_block(self, fd: int) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        received = b""
        while True:
            if b"\0" in received:
                answer, _, _ = received.partition(b"\0")
                if answer:
                    return answer
                # An empty block is a stray flush (never an answer: ours end with a blank): keep reading.
                received = received.split(b"\0", 1)[1]
                continue
            remaining = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not readable:
                # The pipeline's state is unknown now (a late answer would desync it): start afresh next time.
                self._stop()
                reason = f"{self.mode.name} took over {self.timeout_s:g} s{self._stderr_hint()}"
                raise TranslationFailed("apertium", reason)
            chunk = os.read(fd, 65536)
            if not chunk:
                raise _PipelineDied(f"output closed{self._stderr_hint()}")
            received += chunk

    def _alive(self) -> bool:
        return bool(self._processes) and all(process.poll() is None for process in self._processes)

    def _start(self) -> None:
        try:
            commands = self._commands or pipeline_commands(self.mode.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise TranslationFailed("apertium", f"cannot read mode {self.mode.path}: {error}") from error
        env = {**os.environ, "LC_ALL": "C.UTF-8"}
        stderr_read, stderr_write = os.pipe()
        upstream: int | IO[bytes] | None = subprocess.PIPE
        try:
            for argv in commands:
                process = subprocess.Popen(
                    argv, stdin=upstream, stdout=subprocess.PIPE, stderr=stderr_write, env=env, close_fds=True
                )
                if self._processes:
                    self._processes[-1].stdout.close()  # type: ignore[union-attr]  # only the next stage reads it
                self._processes.append(process)
                upstream = process.stdout
        except OSError as error:
            os.close(stderr_read)
            self._stop()
            raise TranslationFailed("apertium", f"cannot start {self.mode.name}: {error}") from error
        finally:
            os.close(stderr_write)
        threading.Thread(target=self._drain_stderr, args=(stderr_read,), daemon=True).start()
        _LOGGER.info("apertium %s pipeline started (%d processes)", self.mode.name, len(self._processes))

    def _drain_stderr(self, fd: int) -> None:
        # Nobody else reads the stages' stderr: unread, a chatty stage would block on a full pipe.
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                self._stderr_tail.append(line.decode("utf-8", errors="replace").rstrip())

    def _stderr_hint(self) -> str:
        return f" (stderr: {' | '.join(self._stderr_tail)})" if self._stderr_tail else ""

    def _stop(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


class ApertiumTranslator:
    """Every Apertium pair installed on this machine; a pair's pipeline starts on its first sentence."""

    name = "apertium"

    def __init__(self, modes: Mapping[LanguagePair, ApertiumMode] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S):
        if shutil.which("lt-proc") is None:
            raise EngineUnavailable(self.name, "lt-proc is not installed (Debian package apertium)")
        self._modes = dict(discover_modes() if modes is None else modes)
        if not self._modes:
            raise EngineUnavailable(self.name, f"no language pair installed in {MODES_DIR}")
        self._timeout_s = timeout_s
        self._pipelines: dict[LanguagePair, ApertiumPipeline] = {}
        self._analysers: dict[str, ApertiumPipeline] = {}
        self._pipelines_lock = threading.Lock()

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset(self._modes)

    def translate(self, text: str, source: str, target: str) -> str:
        if not text.strip():
            return ""
        return self._pipeline(normalize_language(source), normalize_language(target)).translate(text)

    def translate_with_unknowns(self, text: str, source: str, target: str) -> tuple[str, tuple[str, ...]]:
        """The translation, and the words in it that were copied through untranslated."""
        if not text.strip():
            return "", ()
        raw = self._pipeline(normalize_language(source), normalize_language(target)).raw(text)
        return clean_output(raw), unknown_words(raw)

    def words_unknown_in(self, text: str, language: str) -> tuple[str, ...] | None:
        """Words of `text` the language's analyser does not know (the benchmark's untranslated words)."""
        analyser = self._analyser(normalize_language(language))
        if analyser is None:
            return None
        return unknown_words(analyser.raw(text)) if text.strip() else ()

    def proper_nouns(self, text: str, language: str) -> ProperNouns | None:
        """People's and places' names in `text`, by the language's analyser; None where none is installed."""
        analyser = self._analyser(normalize_language(language))
        if analyser is None:
            return None
        if not text.strip():
            return ProperNouns(frozenset(), frozenset())
        return proper_nouns_in_analysis(analyser.raw(text).decode("utf-8", errors="replace"))

    def pipeline_pids(self, source: str, target: str) -> tuple[int, ...]:
        """The running processes of a pair's pipeline; empty before its first sentence."""
        pipeline = self._pipelines.get((normalize_language(source), normalize_language(target)))
        return pipeline.pids() if pipeline else ()

    def close(self) -> None:
        with self._pipelines_lock:
            pipelines = [*self._pipelines.values(), *self._analysers.values()]
            self._pipelines, self._analysers = {}, {}
        for pipeline in pipelines:
            pipeline.close()

    def _pipeline(self, source: str, target: str) -> ApertiumPipeline:
        pair = (source, target)
        with self._pipelines_lock:
            pipeline = self._pipelines.get(pair)
            if pipeline is None:
                mode = self._modes.get(pair)
                if mode is None:
                    raise UnsupportedPair(source, target, self._modes)
                pipeline = self._pipelines[pair] = ApertiumPipeline(mode, self._timeout_s)
            return pipeline

    def _analyser(self, language: str) -> ApertiumPipeline | None:
        """The morphological analyser of the first installed pair that reads `language` (one process)."""
        with self._pipelines_lock:
            analyser = self._analysers.get(language)
            if analyser is None:
                mode = next((mode for (source, _), mode in sorted(self._modes.items()) if source == language), None)
                if mode is None:
                    return None
                try:
                    command = analyser_command(mode.path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    _LOGGER.warning("no %s analyser from %s: %s", language, mode.path, error)
                    return None
                analyser = self._analysers[language] = ApertiumPipeline(mode, self._timeout_s, [command])
            return analyser
