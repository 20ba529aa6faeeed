"""One probe session: a few utterances streamed in real time over one WebSocket, and everything that came back.

Several utterances per session, as a person would speak them; the session sends done after the last one,
reads its summary and is traced (trace.py).
"""

from __future__ import annotations

import asyncio
import time

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ
from babelstream.client.connection import AudioConnection, Closed, ConnectFailed, Refused
from babelstream.client.messages import ServerMessage, Start
from babelstream.client.pacing import real_time
from babelstream.clients.probe.config import LEAD_IN_MS, ProbeConfig
from babelstream.clients.probe.speech import Clip, lay_out
from babelstream.clients.probe.trace import SessionResult, trace_session

# The server waits up to RESULTS_TIMEOUT_SECONDS (30) after done; the client gives it more than that.
CLOSE_WAIT_SECONDS = 90.0


def start_for(config: ProbeConfig) -> Start:
    return Start(
        mode="live",
        sample_rate_hz=PIPELINE_SAMPLE_RATE_HZ,
        language=config.language,
        targets=tuple(config.targets),
        synthesize=config.synthesize,
    )


async def run_session(
    config: ProbeConfig,
    clips: list[Clip],
    *,
    speaker: int,
    session: int,
    run_started: float,
    cut_lag_ms: int,
) -> SessionResult:
    pcm, placed = lay_out(clips, LEAD_IN_MS, config.pause_ms)
    pacing = real_time()
    frames = pacing.frames(pcm)
    arrivals: list[tuple[float, ServerMessage]] = []
    t0 = 0.0
    close_code: int | None = None
    error: str | None = None
    try:
        connection = await AudioConnection.open(config.url, open_timeout=15)
    except Refused as refused:  # at capacity, say: a later session may be let in
        arrivals.append((refused.error.received_at, refused.error))
        close_code = refused.close_code
        error = f"server error {refused.error.code}: {refused.error.reason}"
    except ConnectFailed as failure:
        error = f"connection failed: {failure}"
    else:
        arrivals.append((connection.connected.received_at, connection.connected))
        async with connection:

            async def read() -> None:
                async for message in connection.messages():
                    arrivals.append((message.received_at, message))

            reader = asyncio.create_task(read())
            try:
                await connection.send_start(start_for(config))
                t0 = time.perf_counter()
                await connection.send_paced(frames, pacing)
                await connection.send_done()
            except Closed:
                pass  # the server ended the session: its error message is among the arrivals
            try:
                await asyncio.wait_for(reader, CLOSE_WAIT_SECONDS)
            except asyncio.TimeoutError:
                error = f"no close within {CLOSE_WAIT_SECONDS:.0f} s after done"
            close_code = connection.close_code
            if connection.error is not None and error is None:
                error = f"server error {connection.error.code}: {connection.error.reason}"
    return trace_session(config, placed, arrivals, t0, close_code, error, speaker, session, run_started, cut_lag_ms)
