"""`babelstream stream FILE.wav`: stream a recording to a gateway as if it were spoken live, show captions.

The file is converted on the client to what the pipeline takes (PCM16 LE, 16 kHz, mono): any sample rate,
8/16/24/32-bit integer or 32/64-bit float PCM, stereo or more channels mixed down. It is sent as 20 ms
frames on an absolute schedule (frame i leaves once its audio would have been captured, at t0 + (i+1)*20 ms,
so sleeps never accumulate drift), or with --fast as 2 s frames paced under the gateway's message-rate
limit. Captions are a rich Live table on a terminal and plain lines otherwise (a pipe, a log file).

Exit codes: 0 the server closed normally (1000); 1 the server ended the session with an error (its reason
is printed) or the connection failed; 2 the file or the arguments are unusable.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from babelstream.engines.audio import float32_to_pcm16, resample

PIPELINE_SAMPLE_RATE_HZ = 16_000
SAMPLE_WIDTH_BYTES = 2
REALTIME_FRAME_MS = 20
# --fast: the gateway refuses frames over MAX_CHUNK_BYTES (65,536 by default) and more than
# MAX_MESSAGES_PER_SECOND (200 by default, counted in fixed one-second windows). 2 s frames at
# 150 messages/s stay under both with a margin and still send ~300 s of audio per second.
FAST_FRAME_BYTES = 64_000
FAST_MESSAGES_PER_SECOND = 150
# After {"event":"done"} the server waits up to RESULTS_TIMEOUT_SECONDS (30 by default) for results.
CLOSE_WAIT_SECONDS = 120.0

EXIT_OK = 0
EXIT_SERVER_ERROR = 1
EXIT_USAGE = 2

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class WavError(ValueError):
    """A file that is not a WAV this client can convert (the message says why)."""


# -- WAV reading and conversion -------------------------------------------------------------------

_FORMAT_PCM = 0x0001
_FORMAT_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class WavInfo:
    sample_rate_hz: int
    channels: int
    bits_per_sample: int
    is_float: bool
    frames: int


@dataclass(frozen=True)
class PreparedAudio:
    """PCM16 LE mono at 16 kHz, and what the file was."""

    pcm: bytes
    source: WavInfo

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (SAMPLE_WIDTH_BYTES * PIPELINE_SAMPLE_RATE_HZ)


def _riff_chunks(data: bytes):
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        body = data[position + 8 : position + 8 + size]  # a writer that never patched the size: take the rest
        yield chunk_id, body
        position += 8 + size + (size & 1)


def parse_wav(data: bytes) -> tuple[WavInfo, bytes]:
    """The format and the raw sample bytes (whole frames only) of a PCM or IEEE-float WAV."""
    fmt = None
    samples = None
    for chunk_id, body in _riff_chunks(data):
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data" and samples is None:
            samples = body
    if fmt is None or len(fmt) < 16:
        raise WavError("WAV file has no valid fmt chunk")
    if samples is None:
        raise WavError("WAV file has no data chunk")
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _FORMAT_EXTENSIBLE:
        if len(fmt) < 26:
            raise WavError("WAVE_FORMAT_EXTENSIBLE header is truncated")
        tag = int.from_bytes(fmt[24:26], "little")  # first two bytes of the SubFormat GUID
    if tag not in (_FORMAT_PCM, _FORMAT_FLOAT):
        raise WavError(f"WAV format 0x{tag:04x} is compressed; convert the file to PCM first (e.g. with sox or ffmpeg)")
    is_float = tag == _FORMAT_FLOAT
    if is_float and bits not in (32, 64):
        raise WavError(f"{bits}-bit float WAV is not supported (32 or 64 bit)")
    if not is_float and bits not in (8, 16, 24, 32):
        raise WavError(f"{bits}-bit PCM WAV is not supported (8, 16, 24 or 32 bit)")
    if channels < 1 or rate < 1000:
        raise WavError(f"implausible WAV format: {channels} channel(s) at {rate} Hz")
    block = channels * bits // 8
    usable = len(samples) - len(samples) % block
    return WavInfo(rate, channels, bits, is_float, usable // block), samples[:usable]


def _to_float(raw: bytes, info: WavInfo) -> np.ndarray:
    """Samples in [-1, 1) shaped (frames, channels)."""
    bits = info.bits_per_sample
    if info.is_float:
        samples = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    elif bits == 8:  # 8-bit WAV is unsigned, centred on 128
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif bits == 24:
        triplets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        samples = values.astype(np.float32) / float(1 << 23)
    else:
        samples = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    return samples.reshape(-1, info.channels)


def convert_wav(data: bytes) -> PreparedAudio:
    """Any supported WAV -> PCM16 LE mono 16 kHz (channels averaged, resampled with soxr)."""
    info, raw = parse_wav(data)
    if (info.sample_rate_hz, info.channels, info.bits_per_sample, info.is_float) == (PIPELINE_SAMPLE_RATE_HZ, 1, 16, False):
        return PreparedAudio(bytes(raw), info)  # already the wire format: bit-exact
    mono = _to_float(raw, info).mean(axis=1, dtype=np.float32)
    return PreparedAudio(float32_to_pcm16(resample(mono, info.sample_rate_hz, PIPELINE_SAMPLE_RATE_HZ)), info)


def read_wav(path: str | Path) -> PreparedAudio:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise WavError(f"cannot read {path}: {error.strerror or error}") from error
    return convert_wav(data)


# -- pacing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pacing:
    """How the audio is cut into WebSocket frames and when each frame leaves, relative to the first."""

    frame_bytes: int
    interval_seconds: float
    # Real time: frame i holds audio [i, i+1) x frame and leaves when a microphone would have delivered it.
    after_capture: bool

    def frames(self, pcm: bytes) -> list[bytes]:
        return [pcm[i : i + self.frame_bytes] for i in range(0, len(pcm), self.frame_bytes)]

    def send_at(self, index: int) -> float:
        """Seconds after t0 at which frame `index` is sent: an absolute schedule, so lateness never adds up."""
        return (index + 1 if self.after_capture else index) * self.interval_seconds

    @property
    def messages_per_second(self) -> float:
        return 1.0 / self.interval_seconds


def pacing_for(fast: bool) -> Pacing:
    if fast:
        return Pacing(FAST_FRAME_BYTES, 1.0 / FAST_MESSAGES_PER_SECOND, after_capture=False)
    frame_bytes = PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * REALTIME_FRAME_MS // 1000
    return Pacing(frame_bytes, REALTIME_FRAME_MS / 1000, after_capture=True)


async def send_paced(
    ws, frames: list[bytes], pacing: Pacing, stop: asyncio.Event | None = None, clock=time.perf_counter, sleep=asyncio.sleep
) -> int:
    """Sends the frames on the pacing's absolute schedule; returns how many were sent (fewer if stopped)."""
    t0 = clock()
    for index, frame in enumerate(frames):
        if stop is not None and stop.is_set():
            return index
        delay = t0 + pacing.send_at(index) - clock()
        if delay > 0:
            await sleep(delay)
        await ws.send(frame)
    return len(frames)


# -- arguments ------------------------------------------------------------------------------------


class UsageError(ValueError):
    pass


def parse_targets(value: str | None) -> list[str] | None:
    """"es, pt" -> ["es", "pt"]; empty -> None (the server's default targets)."""
    if not value or not value.strip():
        return None
    targets = []
    for part in value.split(","):
        code = part.strip().lower()
        if not code:
            continue
        if not _LANGUAGE.match(code):
            raise UsageError(f"--to: {part.strip()!r} is not a language code such as es or pt")
        if code not in targets:
            targets.append(code)
    return targets or None


def start_message(args) -> dict:
    """The start message for the command's arguments (fields left out fall back to the server's defaults)."""
    message: dict = {"event": "start", "mode": "live", "sample_rate_hz": PIPELINE_SAMPLE_RATE_HZ}
    language = getattr(args, "language", None)
    if language:
        language = language.strip().lower()
        if language != "auto" and not _LANGUAGE.match(language):
            raise UsageError(f"--language: {language!r} is not a language code such as en (or auto)")
        message["language"] = language
    targets = parse_targets(getattr(args, "to", None))
    if targets is not None:
        message["targets"] = targets
    message["synthesize"] = not getattr(args, "no_speech", False)
    return message


def audio_path(out_dir: str | Path, segment_index: int, language: str) -> Path:
    return Path(out_dir) / f"{segment_index}-{language}.wav"


def format_span(start_ms: int, end_ms: int) -> str:
    def clock(ms: int) -> str:
        minutes, rest = divmod(max(0, ms), 60_000)
        return f"{minutes}:{rest / 1000:04.1f}"

    return f"{clock(start_ms)}–{clock(end_ms)}"


# -- what the server said -------------------------------------------------------------------------


@dataclass
class CaptionRow:
    segment_index: int
    start_ms: int
    end_ms: int
    source: str = ""
    translations: dict[str, str] = field(default_factory=dict)
    text_latency_ms: float | None = None
    audio_latency_ms: float | None = None
    audio_files: dict[str, Path] = field(default_factory=dict)

    def latency(self) -> str:
        if self.text_latency_ms is None:
            return ""
        text = f"{self.text_latency_ms:.0f} ms"
        return text + (f" · audio {self.audio_latency_ms:.0f}" if self.audio_latency_ms is not None else "")


@dataclass
class StreamState:
    out_dir: Path
    source_language: str = ""
    targets: list[str] = field(default_factory=list)
    rows: dict[int, CaptionRow] = field(default_factory=dict)
    error_reason: str | None = None
    summary: dict | None = None
    ack: dict | None = None

    def row(self, message: dict) -> CaptionRow:
        index = message["segment_index"]
        if index not in self.rows:
            self.rows[index] = CaptionRow(index, message.get("start_ms", 0), message.get("end_ms", 0))
        return self.rows[index]

    def apply(self, message: dict) -> list[str]:
        """Updates the captions; returns the plain lines that describe this message (for non-terminals)."""
        kind = message.get("type")
        if "status" in message and kind is None:
            return [f"connected: session {message.get('correlation_id')}"]
        if kind == "ready":
            self.source_language = message.get("source_language") or "auto"
            self.targets = list(message.get("target_languages") or [])
            speech = "with speech" if message.get("synthesize") else "text only"
            return [f"streaming {self.source_language} -> {', '.join(self.targets) or '(no targets)'} ({speech})"]
        if kind == "segment":
            row = self.row(message)
            row.start_ms, row.end_ms = message["start_ms"], message["end_ms"]
            return []
        if kind == "transcript":
            row = self.row(message)
            row.source = message.get("text", "")
            span = format_span(row.start_ms, row.end_ms)
            return [f"[{span}] #{row.segment_index} {message.get('language', '')}: {row.source}  ({message.get('latency_ms', 0):.0f} ms)"]
        if kind == "translation":
            row = self.row(message)
            language = message["target_language"]
            row.translations[language] = message.get("text", "")
            latency = float(message.get("latency_ms", 0.0))
            row.text_latency_ms = max(row.text_latency_ms or 0.0, latency)
            if language not in self.targets:
                self.targets.append(language)
            return [f"    #{row.segment_index} {language}: {row.translations[language]}  ({latency:.0f} ms)"]
        if kind == "audio":
            row = self.row(message)
            language = message["language"]
            path = audio_path(self.out_dir, row.segment_index, language)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(message.get("audio_b64", "")))
            row.audio_files[language] = path
            latency = float(message.get("latency_ms", 0.0))
            row.audio_latency_ms = max(row.audio_latency_ms or 0.0, latency)
            return [f"    #{row.segment_index} {language} audio -> {path}  ({latency:.0f} ms)"]
        if kind == "warning":
            return [f"warning: {message.get('reason', message)}"]
        if kind == "error":
            self.error_reason = message.get("reason") or f"error {message.get('code')}"
            return [f"error {message.get('code')}: {self.error_reason}"]
        if kind == "ack":
            self.ack = message
            return [f"sent: {message.get('segments')} segment(s), {message.get('received_bytes')} bytes; waiting for results"]
        if kind == "summary":
            self.summary = message
            return []
        return []

    def summary_line(self) -> str:
        s = self.summary or {}
        state = "complete" if s.get("complete") else "INCOMPLETE"
        line = (
            f"summary: {s.get('segments', 0)} segment(s), {s.get('transcripts', 0)} transcript(s), "
            f"{s.get('translations', 0)} translation(s), {s.get('audio', 0)} audio, {s.get('warnings', 0)} warning(s): {state}"
        )
        if s.get("missing_segments"):
            line += f"; missing segments {s['missing_segments']}"
        files = sum(len(r.audio_files) for r in self.rows.values())
        if files:
            line += f"; {files} spoken translation(s) in {self.out_dir}/"
        return line


# -- views ----------------------------------------------------------------------------------------


class PlainView:
    """One line per event, flushed: for pipes and log files."""

    def __init__(self, state: StreamState, out=None):
        self.state = state
        self.out = out or sys.stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def show(self, message: dict, lines: list[str]) -> None:
        for line in lines:
            stream = sys.stderr if line.startswith(("warning:", "error ")) else self.out
            print(line, file=stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class LiveView:
    """A rich Live table, one row per segment, redrawn as results arrive."""

    def __init__(self, state: StreamState, console):
        from rich.live import Live

        self.state = state
        self.console = console
        self.live = Live(self._table(), console=console, refresh_per_second=10, transient=True)

    def _table(self, limit: int | None = None):
        from rich.table import Table

        table = Table(expand=True, show_lines=False, title=None)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("time", no_wrap=True)
        table.add_column(self.state.source_language or "source", ratio=2)
        for target in self.state.targets:
            table.add_column(target, ratio=2)
        table.add_column("latency", justify="right", no_wrap=True)
        rows = [self.state.rows[i] for i in sorted(self.state.rows)]
        if limit is not None:
            rows = rows[-limit:]
        for row in rows:
            table.add_row(
                str(row.segment_index),
                format_span(row.start_ms, row.end_ms),
                row.source or "…",
                *(row.translations.get(target, "") for target in self.state.targets),
                row.latency(),
            )
        return table

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)
        if self.state.rows:
            self.console.print(self._table())  # the whole table stays on screen

    def show(self, message: dict, lines: list[str]) -> None:
        kind = message.get("type")
        if kind in ("warning", "error") or (kind == "ready"):
            for line in lines:
                self.console.print(line, style="yellow" if kind == "warning" else ("red" if kind == "error" else None))
        self.live.update(self._table(limit=max(3, self.console.height - 8)))

    def note(self, text: str) -> None:
        self.console.print(text)


# -- the command ----------------------------------------------------------------------------------


def _connection_problem(url: str, error: BaseException) -> str:
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    if isinstance(error, InvalidURI):
        return f"invalid --url {url!r}: expected ws://host:port/ws/audio"
    if isinstance(error, ConnectionRefusedError):
        return f"cannot connect to {url}: connection refused (is `babelstream serve` or a gateway running there?)"
    if isinstance(error, InvalidStatus):
        return f"cannot connect to {url}: the server answered HTTP {error.response.status_code} (is the path /ws/audio?)"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return f"cannot connect to {url}: timed out"
    if isinstance(error, InvalidHandshake):
        return f"cannot connect to {url}: WebSocket handshake failed ({error})"
    return f"cannot connect to {url}: {error.strerror if isinstance(error, OSError) and error.strerror else error}"


async def stream_file(args) -> int:
    from rich.console import Console
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    try:
        audio = read_wav(args.file)
        start = start_message(args)
    except (WavError, UsageError) as problem:
        print(f"babelstream stream: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not audio.pcm:
        print(f"babelstream stream: {args.file} holds no audio", file=sys.stderr)
        return EXIT_USAGE

    fast = bool(getattr(args, "fast", False))
    pacing = pacing_for(fast)
    frames = pacing.frames(audio.pcm)
    url = getattr(args, "url", None) or "ws://127.0.0.1:8000/ws/audio"
    state = StreamState(out_dir=Path(getattr(args, "out", None) or "translated-audio"))
    console = Console()
    view = LiveView(state, console) if console.is_terminal else PlainView(state)
    info = audio.source
    source = f"{info.sample_rate_hz} Hz, {info.channels} ch, {info.bits_per_sample}-bit{' float' if info.is_float else ''}"
    view.note(
        f"{args.file}: {audio.duration_ms / 1000:.1f} s ({source}) -> {url}, "
        f"{'fast' if fast else 'real time'}, {len(frames)} frame(s)"
    )

    try:
        ws = await connect(url, max_size=None, open_timeout=10)
    except (OSError, InvalidURI, InvalidHandshake, TimeoutError, asyncio.TimeoutError) as error:
        print(f"babelstream stream: {_connection_problem(url, error)}", file=sys.stderr)
        return EXIT_SERVER_ERROR

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    interrupts = 0
    sender_task: asyncio.Task | None = None

    def on_interrupt() -> None:
        # First Ctrl-C: stop sending and ask for the results of what was already sent. Second: give up.
        nonlocal interrupts
        interrupts += 1
        stop.set()
        if interrupts > 1 and sender_task is not None:
            reader.cancel()

    handled_signal = False
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        handled_signal = True
    except (NotImplementedError, RuntimeError, ValueError):
        # Loops without signal support (Windows, or not the main thread): Ctrl-C then ends the client at once.
        pass

    async def read() -> None:
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    continue
                message = json.loads(raw)
                view.show(message, state.apply(message))
        except ConnectionClosed:
            pass

    async def send() -> None:
        try:
            await ws.send(json.dumps(start))
            await send_paced(ws, frames, pacing, stop)
            await ws.send(json.dumps({"event": "done"}))
        except ConnectionClosed:
            pass  # the server ended the session: the reader has its reason

    code = EXIT_OK
    with view:
        reader = asyncio.create_task(read())
        sender_task = asyncio.create_task(send())
        try:
            await sender_task
            await asyncio.wait_for(asyncio.shield(reader), CLOSE_WAIT_SECONDS)
        except asyncio.TimeoutError:
            state.error_reason = f"no summary from the server within {CLOSE_WAIT_SECONDS:.0f} s after done"
            reader.cancel()
        except asyncio.CancelledError:
            state.error_reason = state.error_reason or "interrupted"
        finally:
            sender_task.cancel()
            if handled_signal:
                loop.remove_signal_handler(signal.SIGINT)
            await ws.close()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass

    close_code = ws.close_code
    if state.summary is not None:
        view.note(state.summary_line())
    if close_code == 1000 and state.error_reason is None:
        return code
    reason = state.error_reason or ws.close_reason or "connection closed without a reason"
    print(f"babelstream stream: session ended with {close_code}: {reason}", file=sys.stderr)
    return EXIT_SERVER_ERROR
