"""`babelstream probe`: inject N spoken utterances into a gateway and measure where the time goes.

The utterances are English sentences spoken by espeak-ng at run time (varied text, speed and pitch; about
1 to 3 s of speech each), every one followed by 700 ms of silence so the gateway's endpointer cuts it.
Each speaker streams them in real time (20 ms frames on an absolute schedule, sent as a microphone would
deliver them) over SEVERAL UTTERANCES PER WEBSOCKET SESSION: a session carries at most 40 s of audio, then
sends done, reads its summary and the speaker opens the next one (the gateway ends sessions at
MAX_SESSION_SECONDS, 60 by default). `--concurrency K` runs K such speakers at once, each starting at a
random offset within the first 2 s.

Each utterance is followed through its correlation chain on the client: the `segment` the gateway cut
for it, its `transcript`, a `translation` per target and, when synthesis is on, an `audio` per target.
A chain is broken when any of these never arrives (or arrives as a warning instead).

"End of utterance" is the moment the gateway can cut it: the speaker has paused for MIN_SILENCE_MS. On the
client clock that is when the frame completing the pause was sent, t0 + cut_ms, where cut_ms is the
segment's end_ms plus the endpointer's cut lag (min silence minus the trailing audio kept, 100 ms with the
defaults). Latencies are measured on the client's clock from that instant to the message's arrival, so
they include the socket both ways; `latency_ms` (the server's own figure, from its cut) is kept beside it.
Per-stage figures come from the `stage_ms` the results carry.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from babelstream.clients.stream import PIPELINE_SAMPLE_RATE_HZ, SAMPLE_WIDTH_BYTES, pacing_for, send_paced
from babelstream.engines.audio import float32_to_pcm16, pcm16_to_float32, resample, unwrap_pcm16

# Varied sentences, 3 to 11 words, no commas (espeak pauses at commas, which could split one utterance).
SENTENCES = (
    "The house is big.",
    "Good morning everyone.",
    "Where is the train station?",
    "I would like a cup of coffee please.",
    "The weather is very nice today.",
    "Please open the window.",
    "My brother lives in a small town.",
    "We need to finish this report before Friday.",
    "The children are playing in the garden.",
    "Can you help me with my bags?",
    "The meeting starts at nine in the morning.",
    "I am reading a very good book.",
    "She works at the hospital.",
    "The restaurant is closed on Monday.",
    "How much does this shirt cost?",
    "The music is too loud.",
    "We are going to the beach tomorrow.",
    "Thank you for your help.",
    "The doctor will see you now.",
    "I lost my keys again.",
    "The city is beautiful at night.",
    "Turn left at the next street.",
    "He bought a new car last week.",
    "The water is cold.",
    "Our flight leaves in two hours.",
    "The cat is sleeping on the bed.",
    "I do not understand the question.",
    "The bread is fresh.",
    "This is my favorite song.",
    "My sister speaks three languages.",
    "Please call me back tonight.",
    "The book is on the table.",
    "We had dinner with our friends.",
    "The bus is late again.",
    "The train to London leaves from platform four at nine.",
    "My grandmother makes the best apple pie in the world.",
    "Please remember to buy milk and bread on the way home.",
    "The museum is open every day except on Monday mornings.",
    "I would like to book a table for four people tonight.",
    "Our new office is on the third floor of that building.",
    "He has been learning to play the guitar for two years.",
    "She always drinks a glass of orange juice with breakfast.",
    "We spent our summer holiday in a small village by the sea.",
    "The children walked to school together in the warm sun.",
)
WORDS_PER_MINUTE = (140, 155, 170)
PITCHES = (40, 50, 60)
PAUSE_MS = 700
LEAD_IN_MS = 300
SESSION_AUDIO_BUDGET_MS = 40_000
START_SPREAD_SECONDS = 2.0
# The server waits up to RESULTS_TIMEOUT_SECONDS (30) after done; the client gives it more than that.
CLOSE_WAIT_SECONDS = 90.0
QUANTILES = (50, 90, 99)
_SILENCE_DBFS = -40.0


@dataclass(frozen=True)
class ProbeConfig:
    url: str = "ws://127.0.0.1:8000/ws/audio"
    n: int | None = 100  # utterances in all; None: keep talking for duration_seconds
    concurrency: int = 1
    targets: tuple[str, ...] = ("es",)
    language: str = "en"
    synthesize: bool = True
    duration_seconds: float | None = None
    seed: int = 7
    pause_ms: int = PAUSE_MS
    session_audio_budget_ms: int = SESSION_AUDIO_BUDGET_MS
    cut_lag_ms: int | None = None  # None: from SegmentationSettings and the endpointer's defaults


# -- speech ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    text: str
    words_per_minute: int
    pitch: int
    pcm: bytes  # speech only: espeak-ng's leading and trailing silence trimmed

    @property
    def speech_ms(self) -> int:
        return len(self.pcm) * 1000 // (SAMPLE_WIDTH_BYTES * PIPELINE_SAMPLE_RATE_HZ)


def trim_silence(pcm: bytes, sample_rate_hz: int = PIPELINE_SAMPLE_RATE_HZ, threshold_dbfs: float = _SILENCE_DBFS) -> bytes:
    """Cuts leading and trailing 10 ms windows quieter than the threshold."""
    samples = pcm16_to_float32(pcm)
    window = sample_rate_hz // 100
    count = samples.size // window
    if count == 0:
        return pcm
    rms = np.sqrt(np.mean(np.square(samples[: count * window].reshape(count, window), dtype=np.float64), axis=1))
    loud = np.nonzero(rms > 10 ** (threshold_dbfs / 20))[0]
    if loud.size == 0:
        return b""
    return pcm[loud[0] * window * SAMPLE_WIDTH_BYTES : (loud[-1] + 1) * window * SAMPLE_WIDTH_BYTES]


class SpeechCache:
    """espeak-ng speech made on demand, once per (text, speed, pitch)."""

    def __init__(self) -> None:
        if shutil.which("espeak-ng") is None:
            raise RuntimeError("the probe speaks with espeak-ng, which is not installed (apt-get install espeak-ng)")
        self._clips: dict[tuple[str, int, int], Clip] = {}

    def clip(self, text: str, words_per_minute: int, pitch: int) -> Clip:
        key = (text, words_per_minute, pitch)
        if key not in self._clips:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / "speech.wav"
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", str(words_per_minute), "-p", str(pitch), "-w", str(path), text],
                    check=True,
                    capture_output=True,
                )
                pcm, rate = unwrap_pcm16(path.read_bytes())
            pcm = float32_to_pcm16(resample(pcm16_to_float32(pcm), rate, PIPELINE_SAMPLE_RATE_HZ))
            self._clips[key] = Clip(text, words_per_minute, pitch, trim_silence(pcm))
        return self._clips[key]


def speaker_script(rng: random.Random):
    """An endless, shuffled stream of (text, speed, pitch) for one speaker."""
    while True:
        order = list(SENTENCES)
        rng.shuffle(order)
        for text in order:
            yield text, rng.choice(WORDS_PER_MINUTE), rng.choice(PITCHES)


def split_counts(n: int, speakers: int) -> list[int]:
    """n utterances over the speakers, as evenly as possible."""
    return [n // speakers + (1 if k < n % speakers else 0) for k in range(speakers)]


def default_cut_lag_ms() -> int:
    """Stream time between a segment's end_ms and the moment the gateway cut it (min silence - post-roll)."""
    from babelstream.engines.vad.utterance import POST_ROLL_MS
    from babelstream.segmentation import SegmentationSettings

    frame_ms = 20  # the default WebRTC detector's frame
    settings = SegmentationSettings()
    post_roll_ms = POST_ROLL_MS
    silence_frames = math.ceil(settings.min_silence_ms / frame_ms)
    post_frames = min(math.ceil(post_roll_ms / frame_ms), silence_frames)
    return (silence_frames - post_frames) * frame_ms


# -- one session ----------------------------------------------------------------------------------


@dataclass
class Placed:
    clip: Clip
    start_ms: int  # speech span in the session's stream
    end_ms: int


@dataclass
class UtteranceRecord:
    """One utterance's chain as the client saw it. Latencies are ms after the end of utterance."""

    speaker: int
    session: int
    text: str
    speech_ms: int
    words_per_minute: int
    correlation_id: str | None = None
    segments: list[int] = field(default_factory=list)
    segment_audio_ms: int | None = None
    transcript: str | None = None
    translations: dict[str, str] = field(default_factory=dict)
    at_s: float | None = None  # end of utterance, seconds after the run started
    ingress_ms: float | None = None  # end of utterance -> the `segment` message at the client
    transcript_ms: float | None = None
    translation_ms: dict[str, float] = field(default_factory=dict)
    audio_ms: dict[str, float] = field(default_factory=dict)
    server_ms: dict[str, float] = field(default_factory=dict)  # the messages' own latency_ms
    text_stage_ms: dict[str, float] = field(default_factory=dict)  # stage_ms of the first target's translation
    audio_stage_ms: dict[str, float] = field(default_factory=dict)  # stage_ms of the first target's audio
    broken: str | None = None  # why the chain did not complete


@dataclass
class SessionResult:
    speaker: int
    session: int
    correlation_id: str | None
    close_code: int | None
    error: str | None
    summary: dict | None
    utterances: list[UtteranceRecord]
    extra_segments: int  # segments that match no utterance (the detector heard speech in silence)


async def run_session(
    config: ProbeConfig,
    clips: list[Clip],
    *,
    speaker: int,
    session: int,
    run_started: float,
    cut_lag_ms: int,
) -> SessionResult:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    silence = lambda ms: bytes(SAMPLE_WIDTH_BYTES * (PIPELINE_SAMPLE_RATE_HZ * ms // 1000))  # noqa: E731
    pcm = bytearray(silence(LEAD_IN_MS))
    placed: list[Placed] = []
    for clip in clips:
        start_ms = len(pcm) * 1000 // (SAMPLE_WIDTH_BYTES * PIPELINE_SAMPLE_RATE_HZ)
        pcm += clip.pcm
        placed.append(Placed(clip, start_ms, start_ms + clip.speech_ms))
        pcm += silence(config.pause_ms)
    pacing = pacing_for(fast=False)
    frames = pacing.frames(bytes(pcm))
    arrivals: list[tuple[float, dict]] = []
    t0 = 0.0
    close_code: int | None = None
    error: str | None = None
    start = {
        "event": "start",
        "mode": "live",
        "sample_rate_hz": PIPELINE_SAMPLE_RATE_HZ,
        "language": config.language,
        "targets": list(config.targets),
        "synthesize": config.synthesize,
    }
    try:
        async with connect(config.url, max_size=None, open_timeout=15) as ws:

            async def read() -> None:
                try:
                    async for raw in ws:
                        arrived = time.perf_counter()
                        if isinstance(raw, str):
                            arrivals.append((arrived, json.loads(raw)))
                except ConnectionClosed:
                    pass

            reader = asyncio.create_task(read())
            try:
                await ws.send(json.dumps(start))
                t0 = time.perf_counter()
                await send_paced(ws, frames, pacing)
                await ws.send(json.dumps({"event": "done"}))
            except ConnectionClosed:
                pass
            try:
                await asyncio.wait_for(reader, CLOSE_WAIT_SECONDS)
            except asyncio.TimeoutError:
                error = f"no close within {CLOSE_WAIT_SECONDS:.0f} s after done"
            close_code = ws.close_code
    except (OSError, asyncio.TimeoutError) as failure:
        error = f"connection failed: {failure}"
    except Exception as failure:  # handshake refused (capacity, origin) and the like
        error = f"{type(failure).__name__}: {failure}"
    for _, message in arrivals:
        if message.get("type") == "error" and error is None:
            error = f"server error {message.get('code')}: {message.get('reason')}"
    return _trace(config, placed, arrivals, t0, close_code, error, speaker, session, run_started, cut_lag_ms)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _trace(config, placed, arrivals, t0, close_code, error, speaker, session, run_started, cut_lag_ms) -> SessionResult:
    segments: dict[int, dict] = {}
    for arrived, message in arrivals:
        kind = message.get("type")
        if kind == "segment":
            segments[message["segment_index"]] = {"segment": (arrived, message), "translation": {}, "audio": {}, "warnings": []}
            continue
        index = message.get("segment_index")
        if index is None:
            continue
        entry = segments.setdefault(index, {"segment": None, "translation": {}, "audio": {}, "warnings": []})
        if kind == "transcript":
            entry["transcript"] = (arrived, message)
        elif kind == "translation":
            entry["translation"][message["target_language"]] = (arrived, message)
        elif kind == "audio":
            entry["audio"][message["language"]] = (arrived, message)
        elif kind == "warning":
            entry["warnings"].append(message)

    correlation_id = next((m["correlation_id"] for _, m in arrivals if m.get("status") == "connected"), None)
    owner: dict[int, int] = {}
    extra = 0
    for index, entry in segments.items():
        if entry["segment"] is None:
            continue
        seg = entry["segment"][1]
        overlaps = [_overlap(seg["start_ms"], seg["end_ms"], p.start_ms, p.end_ms) for p in placed]
        if overlaps and max(overlaps) > 0:
            owner[index] = int(np.argmax(overlaps))
        else:
            extra += 1

    records = []
    for position, spoken in enumerate(placed):
        record = UtteranceRecord(
            speaker, session, spoken.clip.text, spoken.clip.speech_ms, spoken.clip.words_per_minute, correlation_id
        )
        record.segments = sorted(i for i, p in owner.items() if p == position)
        records.append(record)
        if not record.segments:
            record.broken = error or "no segment: the gateway never cut this utterance"
            continue
        problems = []
        texts = []
        for index in record.segments:
            entry = segments[index]
            if "transcript" not in entry:
                problems.append(f"segment {index}: no transcript")
                continue
            texts.append(entry["transcript"][1]["text"])
            for target in config.targets:
                if target not in entry["translation"]:
                    warned = [w for w in entry["warnings"] if w.get("target_language") == target]
                    problems.append(f"segment {index}: no {target} translation" + (f" ({warned[0]['reason']})" if warned else ""))
                elif config.synthesize and target not in entry["audio"]:
                    warned = [w for w in entry["warnings"] if w.get("language") == target]
                    problems.append(f"segment {index}: no {target} audio" + (f" ({warned[0]['reason']})" if warned else ""))
        record.transcript = " ".join(texts) if texts else None
        last = segments[record.segments[-1]]
        seg = last["segment"][1]
        record.segment_audio_ms = seg["end_ms"] - seg["start_ms"]
        eou = t0 + (seg["end_ms"] + cut_lag_ms) / 1000
        record.at_s = round(eou - run_started, 3)
        ms = lambda arrived: round((arrived - eou) * 1000, 2)  # noqa: E731
        record.ingress_ms = ms(last["segment"][0])
        if "transcript" in last:
            record.transcript_ms = ms(last["transcript"][0])
            record.server_ms["transcript"] = last["transcript"][1]["latency_ms"]
        for target in config.targets:
            if target in last["translation"]:
                arrived, message = last["translation"][target]
                record.translations[target] = message["text"]
                record.translation_ms[target] = ms(arrived)
                record.server_ms[f"translation:{target}"] = message["latency_ms"]
                if not record.text_stage_ms:
                    record.text_stage_ms = dict(message.get("stage_ms") or {})
            if target in last["audio"]:
                arrived, message = last["audio"][target]
                record.audio_ms[target] = ms(arrived)
                record.server_ms[f"audio:{target}"] = message["latency_ms"]
                if not record.audio_stage_ms:
                    record.audio_stage_ms = dict(message.get("stage_ms") or {})
        if problems:
            record.broken = "; ".join(problems) + (f" [{error}]" if error else "")
    summary = next((m for _, m in arrivals if m.get("type") == "summary"), None)
    return SessionResult(speaker, session, correlation_id, close_code, error, summary, records, extra)


# -- speakers and the run -------------------------------------------------------------------------


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


async def check_reachable(url: str) -> str | None:
    """None when a WebSocket opens at url, else a message saying why not."""
    from websockets.asyncio.client import connect

    from babelstream.clients.stream import _connection_problem

    try:
        async with connect(url, open_timeout=10) as ws:
            await ws.close()
        return None
    except Exception as error:  # noqa: BLE001 - every failure becomes a message
        return _connection_problem(url, error)


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


# -- figures --------------------------------------------------------------------------------------


def percentiles(values, quantiles=QUANTILES, digits: int = 2) -> dict:
    values = [v for v in values if v is not None]
    figures: dict = {"n": len(values)}
    for q in quantiles:
        figures[f"p{q}"] = round(float(np.percentile(values, q)), digits) if values else None
    return figures


def _first(mapping: dict, key: str):
    return mapping.get(key) if mapping else None


def summarize(run: ProbeRun, quantiles=QUANTILES) -> dict:
    """Every figure the probe reports, as plain data."""
    config = run.config
    target = config.targets[0] if config.targets else None
    done = [u for u in run.utterances if not u.broken]
    every = run.utterances
    pct = lambda values: percentiles(values, quantiles)  # noqa: E731

    def stage(u: UtteranceRecord, name: str, source: str = "text"):
        stages = u.text_stage_ms if source == "text" else u.audio_stage_ms
        return stages.get(name) if stages else None

    text_ms = [u.translation_ms.get(target) for u in done]
    model_ms = [
        (u.translation_ms[target] - u.text_stage_ms.get("asr", 0.0) - u.text_stage_ms.get("translate", 0.0))
        for u in done
        if target in u.translation_ms and u.text_stage_ms
    ]
    traced = [
        u.translation_ms[target] - sum(v for k, v in u.text_stage_ms.items())
        for u in done
        if target in u.translation_ms and u.text_stage_ms
    ]
    shares = {}
    total = sum(u.translation_ms[target] for u in done if target in u.translation_ms and u.text_stage_ms)
    if total > 0:
        for name in ("asr", "translate", "bus"):
            shares[name] = round(100 * sum(stage(u, name) or 0.0 for u in done if target in u.translation_ms) / total, 1)
        shares["untraced"] = round(100 - sum(shares.values()), 1)
    rtf = [u.text_stage_ms["asr"] / u.segment_audio_ms for u in done if u.text_stage_ms.get("asr") and u.segment_audio_ms]
    speech_rtf = [u.text_stage_ms["asr"] / u.speech_ms for u in done if u.text_stage_ms.get("asr") and u.speech_ms]
    figures = {
        "utterances": len(every),
        "broken_chains": sum(1 for u in every if u.broken),
        "broken_reasons": sorted({u.broken for u in every if u.broken})[:20],
        "extra_segments": sum(s.extra_segments for s in run.sessions),
        "sessions": len(run.sessions),
        "seconds": round(run.seconds, 1),
        "speech_ms": pct([u.speech_ms for u in every]),
        "end_to_end_ms": {
            "transcript": pct([u.transcript_ms for u in done]),
            "translation": pct(text_ms),
            "audio": pct([u.audio_ms.get(target) for u in done]) if config.synthesize else None,
        },
        "server_latency_ms": {
            "transcript": pct([_first(u.server_ms, "transcript") for u in done]),
            "translation": pct([_first(u.server_ms, f"translation:{target}") for u in done]),
        },
        "stage_ms": {
            "ingress": pct([u.ingress_ms for u in done]),
            "asr": pct([stage(u, "asr") for u in done]),
            "translate": pct([stage(u, "translate") for u in done]),
            "tts": pct([stage(u, "tts", "audio") for u in done]) if config.synthesize else None,
            "bus_to_text": pct([stage(u, "bus") for u in done]),
            "bus_to_audio": pct([stage(u, "bus", "audio") for u in done]) if config.synthesize else None,
            "untraced": pct(traced),
        },
        "translation_share_pct": shares,
        "overhead_beyond_models_ms": pct(model_ms),
        "asr_rtf": {"segment": percentiles(rtf, quantiles, 4), "speech": percentiles(speech_rtf, quantiles, 4)},
    }
    by_length = {}
    for low, high in ((0, 1500), (1500, 2500), (2500, 3500)):
        bucket = [u.translation_ms.get(target) for u in done if low <= u.speech_ms < high]
        by_length[f"{low / 1000:g}-{high / 1000:g} s"] = pct(bucket)
    figures["translation_by_speech_length_ms"] = by_length
    if config.duration_seconds:
        minutes: dict[int, list[float]] = {}
        for u in done:
            if u.at_s is not None and target in u.translation_ms:
                minutes.setdefault(int(u.at_s // 60), []).append(u.translation_ms[target])
        figures["translation_per_minute_ms"] = {
            str(minute + 1): percentiles(values, (50, 95, 99)) for minute, values in sorted(minutes.items())
        }
    return figures


def _row(label: str, figures: dict | None, quantiles=QUANTILES) -> str:
    if not figures or not figures.get("n"):
        return f"  {label:<46}" + "".join(f"{'-':>10}" for _ in quantiles) + f"{0:>7}"
    return f"  {label:<46}" + "".join(f"{figures[f'p{q}']:>10.1f}" for q in quantiles) + f"{figures['n']:>7}"


def format_report(run: ProbeRun, figures: dict, quantiles=QUANTILES) -> str:
    config = run.config
    target = config.targets[0] if config.targets else "-"
    heading = "".join(f"{'P' + str(q):>10}" for q in quantiles) + f"{'N':>7}"
    speech = figures["speech_ms"]
    lines = [
        f"probe: {figures['utterances']} utterance(s) from {config.concurrency} speaker(s) in {figures['sessions']} "
        f"session(s) (several utterances per session), {run.seconds:.0f} s, {config.url}",
        f"  speech {speech.get('p50') or 0:.0f} ms median (espeak-ng en-us), {config.pause_ms} ms pause after each; "
        f"targets {','.join(config.targets)}, speech synthesis {'on' if config.synthesize else 'off'}",
        "",
        "end of utterance (the gateway's cut at the pause) -> at the client, ms" + heading,
        _row("transcript", figures["end_to_end_ms"]["transcript"], quantiles),
        _row(f"translated text ({target})", figures["end_to_end_ms"]["translation"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row(f"spoken audio ({target})", figures["end_to_end_ms"]["audio"], quantiles))
    stages = figures["stage_ms"]
    lines += [
        "",
        "per stage (stage_ms of the results), ms" + " " * 24 + heading,
        _row("segment/ingress (cut frame sent -> segment msg)", stages["ingress"], quantiles),
        _row("ASR", stages["asr"], quantiles),
        _row("MT", stages["translate"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row("TTS", stages["tts"], quantiles))
    lines += [
        _row("bus, between stages (to text)", stages["bus_to_text"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row("bus, between stages (to audio)", stages["bus_to_audio"], quantiles))
    lines += [
        _row("untraced (text e2e - ASR - MT - bus)", stages["untraced"], quantiles),
        _row("overhead beyond models (text e2e - ASR - MT)", figures["overhead_beyond_models_ms"], quantiles),
        _row("server latency_ms, translated text", figures["server_latency_ms"]["translation"], quantiles),
    ]
    shares = figures["translation_share_pct"]
    if shares:
        lines.append("  share of translated-text latency: " + ", ".join(f"{k} {v:.1f}%" for k, v in shares.items()))
    rtf = figures["asr_rtf"]["segment"]
    if rtf.get("n"):
        lines.append(f"  ASR real-time factor (ASR ms / segment audio ms): P50 {rtf['p50']:.3f}, P90 {rtf['p90']:.3f}")
    if figures.get("translation_per_minute_ms"):
        lines.append("  translated text per minute: " + ", ".join(
            f"min {m}: P95 {f['p95']:.0f} ms (n={f['n']})" for m, f in figures["translation_per_minute_ms"].items() if f["n"]
        ))
    lines += [
        "",
        f"broken correlation chains: {figures['broken_chains']} of {figures['utterances']}"
        + (f"; extra segments (cut where nothing was said): {figures['extra_segments']}" if figures["extra_segments"] else ""),
    ]
    for reason in figures["broken_reasons"][:5]:
        lines.append(f"  - {reason}")
    return "\n".join(lines)


def run_to_json(run: ProbeRun, figures: dict) -> dict:
    return {
        "config": asdict(run.config),
        "started_at_unix": run.started_wall,
        "figures": figures,
        "sessions": [
            {"speaker": s.speaker, "session": s.session, "correlation_id": s.correlation_id, "close_code": s.close_code, "error": s.error, "summary": s.summary,
             "extra_segments": s.extra_segments}
            for s in run.sessions
        ],
        "utterances": [asdict(u) for u in run.utterances],
    }


async def run_probe(args) -> int:
    targets = tuple(t.strip().lower() for t in (getattr(args, "to", "es") or "es").split(",") if t.strip())
    n = getattr(args, "n", 100)
    concurrency = getattr(args, "concurrency", 1)
    if n is None or n < 1 or concurrency < 1:
        print("babelstream probe: -n and --concurrency must be at least 1", file=sys.stderr)
        return 2
    config = ProbeConfig(
        url=getattr(args, "url", ProbeConfig.url),
        n=n,
        concurrency=concurrency,
        targets=targets or ("es",),
        synthesize=getattr(args, "synthesize", True),
    )
    problem = await check_reachable(config.url)
    if problem:
        print(f"babelstream probe: {problem}", file=sys.stderr)
        return 1
    try:
        run = await probe(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except RuntimeError as error:
        print(f"babelstream probe: {error}", file=sys.stderr)
        return 2
    figures = summarize(run)
    print(format_report(run, figures))
    json_out = getattr(args, "json_out", None)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(run_to_json(run, figures), indent=2))
        print(f"figures written to {json_out}")
    return 1 if figures["broken_chains"] else 0
