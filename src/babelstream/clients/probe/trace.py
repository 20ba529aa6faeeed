"""Following each utterance through its correlation chain, from what one session received.

For each utterance the probe spoke: the `segment` the gateway cut for it, its `transcript`, a `translation`
per target and, when synthesis is on, an `audio` per target. A chain is broken when any of these never
arrives (or arrives as a warning instead).

"End of utterance" is the moment the gateway can cut it: the speaker has paused for MIN_SILENCE_MS. On the
client clock that is when the frame completing the pause was sent, t0 + cut_ms, where cut_ms is the
segment's end_ms plus the endpointer's cut lag (default_cut_lag_ms). Latencies are measured on the client's
clock from that instant to the message's arrival, so they include the socket both ways; `latency_ms` (the
server's own figure, from its cut) is kept beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from babelstream.client.messages import Audio, Connected, ServerMessage, Segment, Summary, Transcript, Translation, WarningMessage
from babelstream.clients.probe.config import ProbeConfig
from babelstream.clients.probe.speech import Placed


def default_cut_lag_ms() -> int:
    """Stream time between a segment's end_ms and the frame that made the gateway cut it: the silence that
    ends an utterance, less the trailing silence the segment keeps (the segmentation settings, as the server's)."""
    from babelstream.segmentation import SegmentationSettings, frame_counts

    counts = frame_counts(SegmentationSettings())
    return (counts.silence_frames_to_end - counts.post_roll_frames) * counts.frame_ms


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


@dataclass
class _SegmentResults:
    """What arrived for one segment index, each with its arrival time."""

    segment: tuple[float, Segment] | None = None
    transcript: tuple[float, Transcript] | None = None
    translation: dict[str, tuple[float, Translation]] = field(default_factory=dict)
    audio: dict[str, tuple[float, Audio]] = field(default_factory=dict)
    warnings: list[WarningMessage] = field(default_factory=list)


def _by_segment(arrivals: list[tuple[float, ServerMessage]]) -> dict[int, _SegmentResults]:
    segments: dict[int, _SegmentResults] = {}
    for arrived, message in arrivals:
        if isinstance(message, Segment):
            segments[message.segment_index] = _SegmentResults(segment=(arrived, message))
        elif isinstance(message, (Transcript, Translation, Audio, WarningMessage)) and message.segment_index is not None:
            entry = segments.setdefault(message.segment_index, _SegmentResults())
            if isinstance(message, Transcript):
                entry.transcript = (arrived, message)
            elif isinstance(message, Translation):
                entry.translation[message.target_language] = (arrived, message)
            elif isinstance(message, Audio):
                entry.audio[message.language] = (arrived, message)
            else:
                entry.warnings.append(message)
    return segments


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def trace_session(
    config: ProbeConfig,
    placed: list[Placed],
    arrivals: list[tuple[float, ServerMessage]],
    t0: float,
    close_code: int | None,
    error: str | None,
    speaker: int,
    session: int,
    run_started: float,
    cut_lag_ms: int,
) -> SessionResult:
    """Every utterance's record from the session's arrivals ((perf_counter time, message) in order); t0 is
    when its first audio frame was due."""
    segments = _by_segment(arrivals)
    correlation_id = next((m.correlation_id for _, m in arrivals if isinstance(m, Connected)), None)
    owner: dict[int, int] = {}  # segment index -> the utterance it overlaps most
    extra = 0
    for index, entry in segments.items():
        if entry.segment is None:
            continue
        seg = entry.segment[1]
        overlaps = [_overlap(seg.start_ms, seg.end_ms, p.start_ms, p.end_ms) for p in placed]
        if overlaps and max(overlaps) > 0:
            owner[index] = overlaps.index(max(overlaps))
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
        problems = _missing(config, record.segments, segments)
        texts = [segments[i].transcript[1].text for i in record.segments if segments[i].transcript]
        record.transcript = " ".join(texts) if texts else None
        _time(record, config, segments[record.segments[-1]], t0 + cut_lag_ms / 1000, run_started)
        if problems:
            record.broken = "; ".join(problems) + (f" [{error}]" if error else "")
    summary = next((m for _, m in arrivals if isinstance(m, Summary)), None)
    return SessionResult(
        speaker, session, correlation_id, close_code, error, summary.data if summary else None, records, extra
    )


def _missing(config: ProbeConfig, indexes: list[int], segments: dict[int, _SegmentResults]) -> list[str]:
    problems = []
    for index in indexes:
        entry = segments[index]
        if entry.transcript is None:
            problems.append(f"segment {index}: no transcript")
            continue
        for target in config.targets:
            if target not in entry.translation:
                warned = [w for w in entry.warnings if w.target_language == target]
                problems.append(f"segment {index}: no {target} translation" + (f" ({warned[0].reason})" if warned else ""))
            elif config.synthesize and target not in entry.audio:
                warned = [w for w in entry.warnings if w.language == target]
                problems.append(f"segment {index}: no {target} audio" + (f" ({warned[0].reason})" if warned else ""))
    return problems


def _time(record: UtteranceRecord, config: ProbeConfig, last: _SegmentResults, cut_origin: float, run_started: float) -> None:
    """The latencies of the utterance's last segment, from the end of utterance on the client's clock."""
    arrived_segment, seg = last.segment
    record.segment_audio_ms = seg.end_ms - seg.start_ms
    eou = cut_origin + seg.end_ms / 1000
    record.at_s = round(eou - run_started, 3)

    def ms(arrived: float) -> float:
        return round((arrived - eou) * 1000, 2)

    record.ingress_ms = ms(arrived_segment)
    if last.transcript:
        arrived, message = last.transcript
        record.transcript_ms = ms(arrived)
        record.server_ms["transcript"] = message.latency_ms
    for target in config.targets:
        if target in last.translation:
            arrived, message = last.translation[target]
            record.translations[target] = message.text
            record.translation_ms[target] = ms(arrived)
            record.server_ms[f"translation:{target}"] = message.latency_ms
            if not record.text_stage_ms:
                record.text_stage_ms = dict(message.stage_ms or {})
        if target in last.audio:
            arrived, message = last.audio[target]
            record.audio_ms[target] = ms(arrived)
            record.server_ms[f"audio:{target}"] = message.latency_ms
            if not record.audio_stage_ms:
                record.audio_stage_ms = dict(message.stage_ms or {})
