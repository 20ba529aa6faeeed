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

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES, PreparedAudio, read_wav
from babelstream.client.connection import DEFAULT_URL, AudioConnection, Closed, ConnectFailed, Refused
from babelstream.client.messages import Start
from babelstream.client.pacing import pacing_for, send_paced
from babelstream.client.resume import Resumer
from babelstream.clients.captions import LiveView, PlainView, StreamState
from babelstream.wav import InvalidWav

# After {"event":"done"} the server waits up to RESULTS_TIMEOUT_SECONDS (30 by default) for results.
CLOSE_WAIT_SECONDS = 120.0
# A connection that dies (its gateway killed, the network dropped) is resumed, up to this many attempts in a row,
# waiting 0.5 s, 1 s, 2 s ... between them (client/resume.py).
RESUME_RETRIES = 5

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

    urls = [u.strip() for u in url.split(",") if u.strip()]  # --url a,b: resumes go to the next one in turn
    try:
        connection = await AudioConnection.open(urls[0])
    except Refused as refused:
        print(f"babelstream stream: session ended with {refused.close_code}: {refused.error.reason}", file=sys.stderr)
        return EXIT_SERVER_ERROR
    except ConnectFailed as error:
        print(f"babelstream stream: {error}", file=sys.stderr)
        return EXIT_SERVER_ERROR

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    interrupts = 0
    reader: asyncio.Task | None = None
    resumer = Resumer(start, retries=getattr(args, "resume_retries", RESUME_RETRIES))
    sent = 0  # frames sent, over every connection of the session
    frame_ms = pacing.frame_bytes * 1000 // (PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES)

    def on_interrupt() -> None:
        # First Ctrl-C: stop sending and ask for the results of what was already sent. Second: give up.
        nonlocal interrupts
        interrupts += 1
        stop.set()
        if interrupts > 1 and reader is not None:
            reader.cancel()

    handled_signal = False
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        handled_signal = True
    except (NotImplementedError, RuntimeError, ValueError):
        # Loops without signal support (Windows, or not the main thread): Ctrl-C then ends the client at once.
        pass

    async def read(connection: AudioConnection) -> None:
        async for message in connection.messages():
            resumer.observe(message)
            view.show(message, state.apply(message))

    async def send(connection: AudioConnection, resuming: bool) -> None:
        async def send_frame(frame: bytes) -> None:
            nonlocal sent
            await connection.send_audio(frame)
            sent += 1

        try:
            if not resuming:
                await connection.send_start(start)
            paced = pacing
            if fast:
                try:
                    ready = await asyncio.wait_for(asyncio.shield(connection.ready), 10)
                    paced = pacing_for(True, ready.limits)
                except asyncio.TimeoutError:
                    pass  # no answer to the start message: the server's default rate, as before limits were sent
                # (Closed: the server ended the session before answering; the reader has its reason.)
            await send_paced(send_frame, frames[sent:], paced, stop)
            await connection.send_done()
        except Closed:
            pass  # the server ended the session, or the connection died: the reader has its reason

    with view:
        resumer.observe(connection.connected)
        view.show(connection.connected, state.apply(connection.connected))
        resuming = False
        while True:
            reader = asyncio.create_task(read(connection))
            sender_task = asyncio.create_task(send(connection, resuming))
            gave_up = False
            try:
                await sender_task
                await asyncio.wait_for(asyncio.shield(reader), CLOSE_WAIT_SECONDS)
            except asyncio.TimeoutError:
                state.error_reason = f"no summary from the server within {CLOSE_WAIT_SECONDS:.0f} s after done"
                gave_up = True
                reader.cancel()
            except asyncio.CancelledError:
                state.error_reason = state.error_reason or "interrupted"
                gave_up = True
            finally:
                sender_task.cancel()
                await connection.close()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass
            if gave_up or interrupts > 1 or not resumer.should_resume(connection):
                break
            state.error_reason = None  # a gateway shutting down, or not ready to read the session back: resumed
            # The connection or its gateway died: the session goes on on a new one. The audio from the end of the
            # last utterance announced is sent again (the server skips what it published already).
            sent = min(sent, resumer.audio_ms // frame_ms)
            view.note(f"connection lost ({connection.close_code or 'no close frame'}); resuming the session")
            try:
                connection = await resumer.reconnect(urls, audio_ms=sent * frame_ms)
            except ConnectFailed as error:
                state.error_reason = f"could not resume the session: {error}"
                break
            resuming = True
        if handled_signal:
            loop.remove_signal_handler(signal.SIGINT)

    close_code = connection.close_code
    if state.summary is not None:
        view.note(state.summary_line())
    if close_code == 1000 and state.error_reason is None:
        return EXIT_OK
    reason = state.error_reason or connection.close_reason or "connection closed without a reason"
    print(f"babelstream stream: session ended with {close_code}: {reason}", file=sys.stderr)
    return EXIT_SERVER_ERROR
