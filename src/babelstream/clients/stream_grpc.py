"""`babelstream stream FILE.wav --grpc [HOST:PORT]`: the same as `babelstream stream`, through the gRPC ingress.

The file, the start message and the captions are stream.py's; the session is one Translate call
(babelstream.client.grpc_call), whose messages are shown as the WebSocket's are (`as_record`). Real time, 20 ms
frames; --fast sends a batch session as fast as the server's default batch limits allow. Exit codes as stream.py's.
A call that dies (UNAVAILABLE: its connection or its gateway) is followed by a resume, as stream.py does on a
WebSocket (client/resume.py): `--grpc a,b` sends the resumes to the next address in turn.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES
from babelstream.client.grpc_call import as_record, bearer, config_of, requests, translate
from babelstream.client.resume import Resumer
from babelstream.clients.captions import LiveView, PlainView, StreamState
from babelstream.clients.stream import (
    CLOSE_WAIT_SECONDS, EXIT_OK, EXIT_SERVER_ERROR, EXIT_USAGE, RESUME_RETRIES, file_and_start,
)
from babelstream.v1 import stream_pb2

DEFAULT_TARGET = "127.0.0.1:50051"
FRAME_MS = 20
# --fast: below the default MAX_BATCH_AUDIO_SPEED (20x) and MAX_MESSAGES_PER_SECOND (200 frames of 20 ms = 4x
# real time per second), so 3.5x real time: a few seconds of headroom on both.
FAST_SPEED = 3.5


async def stream_file_grpc(args) -> int:
    from rich.console import Console

    prepared = file_and_start(args)
    if prepared is None:
        return EXIT_USAGE
    audio, start = prepared
    frame_bytes = PIPELINE_SAMPLE_RATE_HZ * SAMPLE_WIDTH_BYTES * FRAME_MS // 1000
    frames = [audio.pcm[i : i + frame_bytes] for i in range(0, len(audio.pcm), frame_bytes)]
    targets = [t.strip() for t in args.grpc.split(",") if t.strip()]  # --grpc a,b: resumes go to the next in turn
    state = StreamState(out_dir=Path(getattr(args, "out", None) or "translated-audio"))
    console = Console()
    view = LiveView(state, console) if console.is_terminal else PlainView(state)
    fast = bool(getattr(args, "fast", False))
    speed = FAST_SPEED if fast else 1.0
    view.note(f"{args.file}: {audio.duration_ms / 1000:.1f} s -> gRPC {targets[0]}, {'fast' if fast else 'real time'}, "
              f"{len(frames)} frame(s)")
    loop = asyncio.get_running_loop()
    resumer = Resumer(start, retries=getattr(args, "resume_retries", RESUME_RETRIES))
    sent = 0  # frames handed to the call, over every call of the session

    def shown(case: str, message) -> None:  # on grpc's thread: shown on the loop's
        record = as_record(case, message)
        loop.call_soon_threadsafe(lambda: (resumer.observe(record), view.show(record, state.apply(record))))

    def counted(first: int):
        nonlocal sent
        for position in range(first, len(frames)):
            sent = position + 1
            yield frames[position]

    config, target = config_of(start), targets[0]
    with view:
        while True:
            first = sent
            talk = await asyncio.to_thread(
                translate, target, requests(config, counted(first), frame_seconds=FRAME_MS / 1000 / speed),
                metadata=bearer(getattr(args, "token", None)), on_message=shown,
                timeout=(len(frames) - first) * FRAME_MS / 1000 / speed + CLOSE_WAIT_SECONDS,
            )
            await asyncio.sleep(0)  # the last messages shown (resumer.observe too)
            code = talk.code.name if talk.code is not None else None
            if code == "OK" or not resumer.grpc_may_resume(code, talk.kind):
                break
            # The call or its gateway died: the session goes on in a new call, which sends again the audio from
            # the end of the last utterance announced (the server skips what it published already).
            view.note(f"call ended {code}{f' ({talk.kind})' if talk.kind else ''}; resuming the session")
            attempt = await resumer.next_attempt()
            if attempt is None:
                break
            sent = min(sent, resumer.audio_ms // FRAME_MS)
            config = config_of(start)
            config.resume.CopyFrom(stream_pb2.Resume(**resumer.fields(sent * FRAME_MS)))
            target = targets[attempt % len(targets)]
            resumer.resumed_on()
    if state.summary is not None:
        view.note(state.summary_line())
    if talk.code is not None and talk.code.name == "OK":
        return EXIT_OK
    print(f"babelstream stream: session ended {talk.code.name if talk.code else 'without a status'}"
          f"{f' ({talk.kind})' if talk.kind else ''}: {talk.details}", file=sys.stderr)
    return EXIT_SERVER_ERROR
