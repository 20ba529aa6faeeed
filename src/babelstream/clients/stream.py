"""`babelstream stream FILE.wav`: stream a recording to a gateway as if it were spoken live, show captions.

The file is converted to the wire format by babelstream.client.audio (any rate, width or channel count) and
sent in real time, 20 ms frames as a microphone would deliver them, or with --fast as fast as the gateway's
limits allow (babelstream.client.pacing). Captions (clients/captions.py) are a rich Live table on a terminal
and plain lines otherwise (a pipe, a log file).

Exit codes: 0 the server closed normally (1000); 1 the server ended the session with an error (its reason
is printed) or the connection failed; 2 the file or the arguments are unusable.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, PreparedAudio, read_wav
from babelstream.client.connection import DEFAULT_URL, AudioConnection, Closed, ConnectFailed, Refused
from babelstream.client.messages import Start
from babelstream.client.pacing import pacing_for
from babelstream.clients.captions import LiveView, PlainView, StreamState
from babelstream.wav import InvalidWav

# After {"event":"done"} the server waits up to RESULTS_TIMEOUT_SECONDS (30 by default) for results.
CLOSE_WAIT_SECONDS = 120.0

EXIT_OK = 0
EXIT_SERVER_ERROR = 1
EXIT_USAGE = 2

_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


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


def start_for(args) -> Start:
    """The start message for the command's arguments (fields left out fall back to the server's defaults)."""
    language = getattr(args, "language", None)
    if language:
        language = language.strip().lower()
        if language != "auto" and not _LANGUAGE.match(language):
            raise UsageError(f"--language: {language!r} is not a language code such as en (or auto)")
    targets = parse_targets(getattr(args, "to", None))
    return Start(
        # A file sent faster than real time is a batch session: its own pool and speed limit on the server.
        mode="batch" if getattr(args, "fast", False) else "live",
        sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ,
        language=language or None,
        targets=tuple(targets) if targets is not None else None,
        synthesize=not getattr(args, "no_speech", False),
        partials=False if getattr(args, "no_partials", False) else None,
        room=getattr(args, "room", None) or None,
    )


def file_and_start(args) -> tuple[PreparedAudio, Start] | None:
    """The file as the wire format and the start message, or None once the reason is printed (EXIT_USAGE)."""
    try:
        audio = read_wav(args.file)
        start = start_for(args)
    except (InvalidWav, UsageError) as problem:
        print(f"babelstream stream: {problem}", file=sys.stderr)
        return None
    if not audio.pcm:
        print(f"babelstream stream: {args.file} holds no audio", file=sys.stderr)
        return None
    return audio, start


async def stream_file(args) -> int:
    from rich.console import Console

    prepared = file_and_start(args)
    if prepared is None:
        return EXIT_USAGE
    audio, start = prepared

    fast = bool(getattr(args, "fast", False))
    pacing = pacing_for(fast)  # --fast: paced again once the server's limits are known (`ready`)
    frames = pacing.frames(audio.pcm)
    url = getattr(args, "url", None) or DEFAULT_URL
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
        connection = await AudioConnection.open(url)
    except Refused as refused:
        print(f"babelstream stream: session ended with {refused.close_code}: {refused.error.reason}", file=sys.stderr)
        return EXIT_SERVER_ERROR
    except ConnectFailed as error:
        print(f"babelstream stream: {error}", file=sys.stderr)
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
        async for message in connection.messages():
            view.show(message, state.apply(message))

    async def send() -> None:
        try:
            await connection.send_start(start)
            paced = pacing
            if fast:
                try:
                    ready = await asyncio.wait_for(asyncio.shield(connection.ready), 10)
                    paced = pacing_for(True, ready.limits)
                except asyncio.TimeoutError:
                    pass  # no answer to the start message: the server's default rate, as before limits were sent
                # (Closed: the server ended the session before answering; the reader has its reason.)
            await connection.send_paced(frames, paced, stop)
            await connection.send_done()
        except Closed:
            pass  # the server ended the session: the reader has its reason

    with view:
        view.show(connection.connected, state.apply(connection.connected))
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
            await connection.close()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass

    close_code = connection.close_code
    if state.summary is not None:
        view.note(state.summary_line())
    if close_code == 1000 and state.error_reason is None:
        return EXIT_OK
    reason = state.error_reason or connection.close_reason or "connection closed without a reason"
    print(f"babelstream stream: session ended with {close_code}: {reason}", file=sys.stderr)
    return EXIT_SERVER_ERROR
