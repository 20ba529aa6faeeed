"""CTranslate2 translation with models the operator supplies: OPUS-MT (Marian) or NLLB, one directory each.

A directory is the output of `ct2-transformers-converter` (model.bin, config.json, vocabularies) plus the
SentencePiece model(s) the original repository ships, copied in with `--copy_files`:
  OPUS-MT: source.spm and target.spm
  NLLB:    sentencepiece.bpe.model (language tokens such as "spa_Latn" are added here)
Nothing is downloaded: a directory that lacks a file is refused when the engine is built.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from babelstream.engines.mt.base import (
    EngineUnavailable,
    LanguagePair,
    TranslationFailed,
    UnsupportedPair,
    normalize_language,
)

_LOGGER = logging.getLogger(__name__)

_EOS = "</s>"
MAX_DECODING_LENGTH = 256  # tokens; a spoken sentence is far shorter
# A runaway decode (a model looping on a phrase) stops at a few times the input's length instead.
_DECODING_LENGTH_PER_SOURCE_TOKEN = 3
_DECODING_LENGTH_SLACK = 16

# FLORES-200 codes NLLB expects, for the ISO 639-1 codes the platform uses.
NLLB_LANGUAGE_CODES = {
    "ar": "arb_Arab", "bg": "bul_Cyrl", "ca": "cat_Latn", "cs": "ces_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fi": "fin_Latn", "fr": "fra_Latn", "gl": "glg_Latn", "he": "heb_Hebr",
    "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "id": "ind_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "nl": "nld_Latn",
    "no": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sk": "slk_Latn", "sl": "slv_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "tr": "tur_Latn",
    "uk": "ukr_Cyrl", "vi": "vie_Latn", "zh": "zho_Hans",
}


class ModelFamily(Enum):
    OPUS_MT = "opus-mt"
    NLLB = "nllb"


@dataclass(frozen=True)
class Ct2ModelDirectory:
    path: Path
    family: ModelFamily
    source_spm: Path
    target_spm: Path
    add_source_eos: bool  # models converted from Marian .npz append </s> themselves


class InvalidModelDirectory(ValueError):
    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path} is not a usable CTranslate2 translation model: {reason}")
        self.path = path
        self.reason = reason


def inspect_model_directory(path: Path) -> Ct2ModelDirectory:
    """Which family a directory holds, from the files in it; cheap (reads config.json only)."""
    if not (path / "model.bin").is_file():
        raise InvalidModelDirectory(path, "no model.bin (convert it with ct2-transformers-converter)")
    config: dict[str, Any] = {}
    if (path / "config.json").is_file():
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    add_source_eos = bool(config.get("add_source_eos", False))
    if (path / "source.spm").is_file() and (path / "target.spm").is_file():
        return Ct2ModelDirectory(path, ModelFamily.OPUS_MT, path / "source.spm", path / "target.spm", add_source_eos)
    if (path / "sentencepiece.bpe.model").is_file():
        spm = path / "sentencepiece.bpe.model"
        return Ct2ModelDirectory(path, ModelFamily.NLLB, spm, spm, add_source_eos)
    raise InvalidModelDirectory(
        path, "no tokenizer: expected source.spm + target.spm (OPUS-MT) or sentencepiece.bpe.model (NLLB)"
    )


class _LoadedModel:
    """One directory's weights and tokenizers; both are safe to share between threads."""

    def __init__(self, directory: Ct2ModelDirectory, compute_type: str, intra_threads: int):
        import ctranslate2
        import sentencepiece

        self.directory = directory
        self.translator = ctranslate2.Translator(
            str(directory.path), device="cpu", compute_type=compute_type, intra_threads=intra_threads
        )
        self.source_tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(directory.source_spm))
        self.target_tokenizer = (
            self.source_tokenizer
            if directory.target_spm == directory.source_spm
            else sentencepiece.SentencePieceProcessor(model_file=str(directory.target_spm))
        )

    def translate(self, text: str, source: str, target: str) -> str:
        pieces: list[str] = self.source_tokenizer.encode(text, out_type=str)
        target_prefix = None
        if self.directory.family is ModelFamily.NLLB:
            source_token, target_token = NLLB_LANGUAGE_CODES[source], NLLB_LANGUAGE_CODES[target]
            pieces = [source_token, *pieces, _EOS]
            target_prefix = [[target_token]]
        elif not self.directory.add_source_eos:
            pieces = [*pieces, _EOS]
        max_length = min(MAX_DECODING_LENGTH, _DECODING_LENGTH_PER_SOURCE_TOKEN * len(pieces) + _DECODING_LENGTH_SLACK)
        result = self.translator.translate_batch(
            [pieces], target_prefix=target_prefix, beam_size=2, max_decoding_length=max_length
        )[0]
        output = list(result.hypotheses[0])
        if target_prefix and output[:1] == target_prefix[0]:
            output = output[1:]
        return self.target_tokenizer.decode(output).strip()


class OpusCt2Translator:
    """Pairs the operator mapped to model directories; each directory loads on its first sentence."""

    name = "opus-ct2"

    def __init__(self, models: Mapping[LanguagePair, Path], compute_type: str = "auto", intra_threads: int = 0):
        if not models:
            raise EngineUnavailable(self.name, "no model configured")
        try:
            import ctranslate2  # noqa: F401
            import sentencepiece  # noqa: F401
        except ImportError as error:
            raise EngineUnavailable(self.name, f"missing Python package: {error.name}") from error
        self._directories: dict[LanguagePair, Ct2ModelDirectory] = {}
        for (source, target), path in models.items():
            pair = (normalize_language(source), normalize_language(target))
            try:
                directory = inspect_model_directory(Path(path))
                if directory.family is ModelFamily.NLLB and not set(pair) <= NLLB_LANGUAGE_CODES.keys():
                    raise InvalidModelDirectory(directory.path, f"no NLLB language code known for {pair}")
            except (InvalidModelDirectory, OSError, ValueError) as error:
                _LOGGER.warning("skipping CTranslate2 model for %s->%s: %s", *pair, error)
                continue
            self._directories[pair] = directory
        if not self._directories:
            raise EngineUnavailable(self.name, "none of the configured model directories is usable")
        self._compute_type = compute_type
        self._intra_threads = intra_threads
        self._loaded: dict[Path, _LoadedModel] = {}  # by directory: one NLLB model serves many pairs
        self._load_lock = threading.Lock()

    def pairs(self) -> frozenset[LanguagePair]:
        return frozenset(self._directories)

    def translate(self, text: str, source: str, target: str) -> str:
        pair = (normalize_language(source), normalize_language(target))
        directory = self._directories.get(pair)
        if directory is None:
            raise UnsupportedPair(pair[0], pair[1], self._directories)
        if not text.strip():
            return ""
        model = self._model(directory)
        try:
            return model.translate(text, *pair)
        except Exception as error:  # CTranslate2 raises RuntimeError/ValueError from C++
            raise TranslationFailed(self.name, f"{pair[0]}->{pair[1]} with {directory.path}: {error}") from error

    def close(self) -> None:
        with self._load_lock:
            self._loaded.clear()

    def _model(self, directory: Ct2ModelDirectory) -> _LoadedModel:
        model = self._loaded.get(directory.path)  # lock-free once loaded: a load must not stall other pairs
        if model is not None:
            return model
        with self._load_lock:
            model = self._loaded.get(directory.path)
            if model is None:
                try:
                    model = _LoadedModel(directory, self._compute_type, self._intra_threads)
                except Exception as error:
                    raise TranslationFailed(self.name, f"cannot load {directory.path}: {error}") from error
                self._loaded[directory.path] = model
                _LOGGER.info("loaded %s model from %s", directory.family.value, directory.path)
            return model
