"""The probe's speakers: each streams its utterances session after session; `probe` runs them all at once.

A session carries at most `session_audio_budget_ms` of audio, then sends done, reads its summary and the
speaker opens the next one. `concurrency` speakers run at once, each starting at a random offset within the
first START_SPREAD_SECONDS.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Callable

from babelstream.clients.probe.config import LEAD_IN_MS, ProbeConfig
from babelstream.clients.probe.session import run_session
from babelstream.clients.probe.speech import Clip, SpeechCache, speaker_script
from babelstream.clients.probe.trace import SessionResult, UtteranceRecord, default_cut_lag_ms

START_SPREAD_SECONDS = 2.0


def split_counts(n: int, speakers: int) -> list[int]:
    """n utterances over the speakers, as evenly as possible."""
    return [n // speakers + (1 if k < n % speakers else 0) for k in range(speakers)]


@dataclass
class ProbeRun:
    config: ProbeConfig
    sessions: list[SessionResult]
    started_wall: float
    seconds: float
    started_perf: float = 0.0  # time.perf_counter() at the start: at_s values are relative to it

    @property
    def utterances(self) -> list[UtteranceRecord]:
        return [u for s in self.sessions for u in s.utterances]


async def _speaker(
    config: ProbeConfig,
    speaker: int,
    count: int | None,
    speech: SpeechCache,
    run_started: float,
    cut_lag_ms: int,
    results: list[SessionResult],
    progress: Callable[[str], None] | None,
) -> None:
    rng = random.Random(config.seed * 1000 + speaker)
    script = speaker_script(rng)
    if config.concurrency > 1:
        await asyncio.sleep(rng.uniform(0, START_SPREAD_SECONDS))
    deadline = run_started + config.duration_seconds if config.duration_seconds else None
    remaining = count
    session = 0
    pending = None
    while remaining is None or remaining > 0:
        if deadline is not None:
            left_ms = (deadline - time.perf_counter()) * 1000
            if left_ms <= 0:
                return
            budget = min(config.session_audio_budget_ms, left_ms)
        else:
            budget = config.session_audio_budget_ms
        clips: list[Clip] = []
        used = LEAD_IN_MS
        while remaining is None or len(clips) < remaining:
            if pending is None:
                pending = await asyncio.to_thread(speech.clip, *next(script))
            needed = pending.speech_ms + config.pause_ms
            if clips and used + needed > budget:
                break
            if not clips and deadline is not None and used + needed > budget:
                return  # not even one more utterance fits before the end of the run
            clips.append(pending)
            used += needed
            pending = None
        result = await run_session(config, clips, speaker=speaker, session=session, run_started=run_started, cut_lag_ms=cut_lag_ms)
        results.append(result)
        if progress:
            broken = sum(1 for u in result.utterances if u.broken)
            code = result.close_code
            progress(
                f"speaker {speaker} session {session}: {len(clips)} utterance(s), {broken} broken, close {code}"
                + (f" ({result.error})" if result.error else "")
            )
        if result.error and result.error.startswith("connection failed") and not any(not u.broken for u in result.utterances):
            if session == 0:
                return  # nothing answers at this address: do not retry for every remaining utterance
        session += 1
        if remaining is not None:
            remaining -= len(clips)


async def probe(config: ProbeConfig, progress: Callable[[str], None] | None = None) -> ProbeRun:
    """Runs the speakers to completion and returns every session's trace."""
    if config.n is None and not config.duration_seconds:
        raise ValueError("give n utterances or a duration")
    speech = SpeechCache()
    cut_lag_ms = config.cut_lag_ms if config.cut_lag_ms is not None else default_cut_lag_ms()
    speakers = max(1, config.concurrency)
    counts: list[int | None] = split_counts(config.n, speakers) if config.n is not None else [None] * speakers
    results: list[SessionResult] = []
    started_wall = time.time()
    run_started = time.perf_counter()
    await asyncio.gather(
        *(
            _speaker(config, k, counts[k], speech, run_started, cut_lag_ms, results, progress)
            for k in range(speakers)
            if counts[k] != 0
        )
    )
    results.sort(key=lambda r: (r.speaker, r.session))
    return ProbeRun(config, results, started_wall, time.perf_counter() - run_started, run_started)
