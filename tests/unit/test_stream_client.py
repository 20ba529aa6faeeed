"""The stream client without a server: WAV reading and conversion, frame pacing, arguments, captions, and the
probe's pure parts."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import struct
import wave
from types import SimpleNamespace

import numpy as np
import pytest

from babelstream.client.audio import PIPELINE_SAMPLE_RATE_HZ, convert_wav, read_wav
from babelstream.client.messages import from_dict
from babelstream.client.pacing import FAST_FRAME_BYTES, FAST_MESSAGES_PER_SECOND, pacing_for, send_paced
from babelstream.clients import probe as probing
from babelstream.clients import stream
from babelstream.clients.captions import StreamState, format_span
from babelstream.clients.stream import UsageError, parse_targets, start_for
from babelstream.wav import InvalidWav as WavError


def start_message(args) -> dict:
    return start_for(args).message()


def tone(rate: int, seconds: float = 0.5, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * math.pi * hz * t)).astype(np.float64)


def riff(fmt_chunk: bytes, data: bytes, extra_chunks: bytes = b"") -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + extra_chunks
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm_fmt(channels: int, rate: int, bits: int, tag: int = 1) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


def encode(samples: np.ndarray, bits: int) -> bytes:
    """Interleaved float samples in [-1, 1) -> integer PCM bytes of the given width (8-bit unsigned)."""
    if bits == 8:
        return np.clip(np.round(samples * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    if bits == 16:
        return np.round(samples * 32767).astype("<i2").tobytes()
    if bits == 24:
        values = np.round(samples * (2**23 - 1)).astype(np.int32)
        return b"".join(int(v).to_bytes(3, "little", signed=True) for v in values)
    return np.round(samples * (2**31 - 1)).astype("<i4").tobytes()


def as_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def dominant_hz(samples: np.ndarray, rate: int = PIPELINE_SAMPLE_RATE_HZ) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


# -- WAV reading ------------------------------------------------------------------------------------


def test_16k_mono_pcm16_passes_through_bit_exact():
    pcm = np.arange(-8000, 8000, dtype="<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(pcm)
    audio = convert_wav(buffer.getvalue())
    assert audio.pcm == pcm
    assert audio.duration_ms == 1000
    assert (audio.source.sample_rate_hz, audio.source.channels, audio.source.bits_per_sample) == (16000, 1, 16)


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_integer_pcm_of_any_width_and_rate_becomes_16k_pcm16(bits, rate):
    samples = tone(rate)
    audio = convert_wav(riff(pcm_fmt(1, rate, bits), encode(samples, bits)))
    out = as_float(audio.pcm)
    assert abs(out.size - 8000) <= 2  # 0.5 s at 16 kHz
    assert abs(dominant_hz(out) - 440) < 5
    rms = np.sqrt(np.mean(out[200:-200] ** 2))
    assert rms == pytest.approx(0.5 / math.sqrt(2), rel=0.03)


def test_stereo_is_mixed_down_to_the_mean_of_the_channels():
    rate = 16000
    left, right = tone(rate, hz=300, amplitude=0.4), tone(rate, hz=1000, amplitude=0.4)
    interleaved = np.empty(left.size * 2)
    interleaved[0::2], interleaved[1::2] = left, right
    audio = convert_wav(riff(pcm_fmt(2, rate, 16), encode(interleaved, 16)))
    out = as_float(audio.pcm)
    assert out.size == left.size
    np.testing.assert_allclose(out, (left + right) / 2, atol=2e-4)


def test_opposite_channels_cancel():
    samples = tone(16000)
    interleaved = np.empty(samples.size * 2)
    interleaved[0::2], interleaved[1::2] = samples, -samples
    out = as_float(convert_wav(riff(pcm_fmt(2, 16000, 16), encode(interleaved, 16))).pcm)
    assert np.max(np.abs(out)) < 1e-3


def test_24_bit_negative_full_scale_keeps_its_sign():
    data = (-(2**23)).to_bytes(3, "little", signed=True) * 1600 + (2**23 - 1).to_bytes(3, "little", signed=True) * 1600
    out = as_float(convert_wav(riff(pcm_fmt(1, 16000, 24), data)).pcm)
    assert out[:1600].max() <= -0.99 and out[1600:].min() >= 0.99


def test_float_and_extensible_formats_are_read():
    samples = tone(48000).astype("<f4")
    float_wav = riff(pcm_fmt(1, 48000, 32, tag=3), samples.tobytes())
    # WAVE_FORMAT_EXTENSIBLE with the PCM SubFormat GUID, 24-bit stereo, and an extra LIST chunk before data.
    stereo = np.repeat(tone(44100), 2)
    guid = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    extensible = pcm_fmt(2, 44100, 24, tag=0xFFFE) + struct.pack("<HHI", 22, 24, 3) + guid
    extensible_wav = riff(extensible, encode(stereo, 24), extra_chunks=b"LIST" + struct.pack("<I", 4) + b"INFO")
    for data in (float_wav, extensible_wav):
        out = as_float(convert_wav(data).pcm)
        assert abs(out.size - 8000) <= 2 and abs(dominant_hz(out) - 440) < 5


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not a wav at all", "not a WAV"),
        (riff(struct.pack("<HHIIHH", 0x55, 1, 16000, 2000, 1, 0), b"\0" * 100), "compressed"),
        (riff(pcm_fmt(1, 16000, 12), b"\0" * 100), "12-bit"),
        (b"RIFF" + struct.pack("<I", 20) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + pcm_fmt(1, 16000, 16), "no data chunk"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(data, message):
    with pytest.raises(WavError, match=message):
        convert_wav(data)


def test_a_missing_file_is_a_wav_error(tmp_path):
    with pytest.raises(WavError, match="cannot read"):
        read_wav(tmp_path / "nope.wav")


def test_a_data_chunk_with_a_bogus_size_is_read_to_the_end():
    data = np.zeros(1600, dtype="<i2").tobytes()
    wav = bytearray(riff(pcm_fmt(1, 16000, 16), data))
    wav[40:44] = struct.pack("<I", 0xFFFFFFFF)  # a writer that streamed and never patched the size
    assert convert_wav(bytes(wav)).pcm == data


# -- pacing -----------------------------------------------------------------------------------------


def test_real_time_pacing_is_20_ms_frames_on_an_absolute_schedule():
    pacing = pacing_for(fast=False)
    assert pacing.frame_bytes == 640  # 20 ms of 16 kHz PCM16
    frames = pacing.frames(b"\1" * (640 * 3 + 100))
    assert [len(f) for f in frames] == [640, 640, 640, 100]
    # Frame i leaves when its audio has been captured: (i + 1) x 20 ms, never relative to the previous send.
    assert [round(pacing.send_at(i), 6) for i in (0, 1, 49, 50_000)] == [0.02, 0.04, 1.0, 1000.02]


def test_fast_pacing_uses_big_frames_under_the_gateway_limits():
    pacing = pacing_for(fast=True)
    assert pacing.frame_bytes <= 65_536 and pacing.frame_bytes % 640 == 0
    assert pacing.frame_bytes == FAST_FRAME_BYTES
    assert pacing.messages_per_second == FAST_MESSAGES_PER_SECOND < 200
    # In any one-second window at most FAST_MESSAGES_PER_SECOND frames (+ start/done) are sent.
    times = [pacing.send_at(i) for i in range(1000)]
    assert max(sum(1 for t in times if w <= t < w + 1) for w in range(5)) <= FAST_MESSAGES_PER_SECOND + 1


class FakeClock:
    """A clock that sleeps advance; each send costs `send_cost` seconds, like a slow socket."""

    def __init__(self, send_cost: float = 0.0):
        self.now = 100.0
        self.send_cost = send_cost
        self.sent_at: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def send(self, frame: bytes) -> None:
        self.sent_at.append(self.now)
        self.now += self.send_cost


async def test_send_paced_does_not_drift_when_sends_are_slow():
    clock = FakeClock(send_cost=0.005)

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    pacing = pacing_for(fast=False)
    frames = pacing.frames(b"\0" * 640 * 500)
    sent = await send_paced(clock.send, frames, pacing, clock=clock, sleep=fake_sleep)
    assert sent == 500
    offsets = [t - 100.0 for t in clock.sent_at]
    # Every frame leaves exactly on its slot: slow sends are absorbed, not accumulated.
    assert offsets == pytest.approx([0.02 * (i + 1) for i in range(500)], abs=1e-9)


async def test_send_paced_catches_up_after_a_stall_instead_of_shifting():
    clock = FakeClock()

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds


    async def send(frame: bytes) -> None:
        clock.sent_at.append(clock.now)
        if len(clock.sent_at) == 10:
            clock.now += 0.1  # a 100 ms hiccup

    pacing = pacing_for(fast=False)
    await send_paced(send, pacing.frames(b"\0" * 640 * 30), pacing, clock=clock, sleep=fake_sleep)
    offsets = [t - 100.0 for t in clock.sent_at]
    assert offsets[-1] == pytest.approx(0.6)  # the 30th frame still leaves at 600 ms
    assert offsets[10:15] == pytest.approx([0.3] * 5)  # the late frames go out at once, then the schedule resumes


async def test_send_paced_stops_when_asked():
    stop = asyncio.Event()
    sent = []

    async def send(frame):
        sent.append(frame)
        if len(sent) == 3:
            stop.set()

    pacing = pacing_for(fast=True)
    count = await send_paced(send, [b"\0" * 2] * 10, pacing, stop)
    assert count == 3


# -- arguments --------------------------------------------------------------------------------------


def args(**overrides) -> SimpleNamespace:
    values = dict(file="x.wav", to="", language=None, url="ws://127.0.0.1:8000/ws/audio", fast=False, out="o", no_speech=False)
    values.update(overrides)
    return SimpleNamespace(**values)


def test_targets_are_split_trimmed_lowercased_and_deduplicated():
    assert parse_targets("es, PT,,es") == ["es", "pt"]
    assert parse_targets("") is None and parse_targets("  ") is None and parse_targets(None) is None
    with pytest.raises(UsageError, match="spanish"):
        parse_targets("es,spanish")


def test_start_message_from_arguments():
    assert start_message(args()) == {"event": "start", "mode": "live", "sample_rate_hz": 16000, "synthesize": True}
    message = start_message(args(to="es,pt", language="EN", no_speech=True))
    assert message["targets"] == ["es", "pt"] and message["language"] == "en" and message["synthesize"] is False
    assert start_message(args(language="auto"))["language"] == "auto"
    with pytest.raises(UsageError):
        start_message(args(language="english"))


def test_the_cli_declares_what_the_client_reads():
    from babelstream.cli import build_parser

    parsed = build_parser().parse_args(["stream", "a.wav", "--to", "es,pt", "--fast", "--no-speech", "--out", "d"])
    message = start_message(parsed)
    assert message["targets"] == ["es", "pt"] and message["synthesize"] is False
    assert parsed.fast and parsed.out == "d" and parsed.url.endswith("/ws/audio")
    probe_args = build_parser().parse_args(["probe", "-n", "5", "--concurrency", "2", "--json", "f.json"])
    assert (probe_args.n, probe_args.concurrency, probe_args.to, probe_args.json_out) == (5, 2, "es", "f.json")


async def test_unreadable_file_and_bad_targets_exit_2_before_connecting(tmp_path, capsys):
    assert await stream.stream_file(args(file=str(tmp_path / "missing.wav"))) == 2
    wav = tmp_path / "a.wav"
    wav.write_bytes(riff(pcm_fmt(1, 16000, 16), b"\0" * 640))
    assert await stream.stream_file(args(file=str(wav), to="es,xx1")) == 2
    assert "not a language code" in capsys.readouterr().err


# -- captions ---------------------------------------------------------------------------------------


def test_messages_fill_rows_write_audio_and_the_summary(tmp_path):
    state = StreamState(out_dir=tmp_path / "out")
    state.apply(from_dict({"type": "ready", "source_language": "en", "target_languages": ["es", "pt"], "synthesize": True}))
    state.apply(from_dict({"type": "segment", "segment_index": 0, "start_ms": 1200, "end_ms": 3400}))
    lines = state.apply(from_dict({"type": "transcript", "segment_index": 0, "text": "Hello there.", "language": "en", "latency_ms": 300.0}))
    assert lines == ["[0:01.2–0:03.4] #0 en: Hello there.  (300 ms)"]
    state.apply(from_dict({"type": "translation", "segment_index": 0, "target_language": "es", "text": "Hola.", "latency_ms": 310.4}))
    state.apply(from_dict({"type": "translation", "segment_index": 0, "target_language": "pt", "text": "Olá.", "latency_ms": 320.0}))
    wav = b"RIFF....WAVEfake"
    state.apply(from_dict({"type": "audio", "segment_index": 0, "language": "es", "audio_b64": base64.b64encode(wav).decode(), "latency_ms": 400.0}))
    row = state.rows[0]
    assert row.translations == {"es": "Hola.", "pt": "Olá."}
    assert (tmp_path / "out" / "0-es.wav").read_bytes() == wav
    assert row.latency() == "320 ms · audio 400"
    state.apply(from_dict({"type": "error", "code": 1008, "reason": "rate exceeded"}))
    assert state.error_reason == "rate exceeded"
    state.apply(from_dict({"type": "summary", "complete": False, "segments": 2, "transcripts": 1, "translations": 2, "audio": 1,
                           "warnings": 0, "missing_segments": [1]}))
    line = state.summary_line()
    assert "INCOMPLETE" in line and "missing segments [1]" in line and "1 spoken translation(s)" in line


def test_minutes_in_time_spans():
    assert format_span(61_500, 125_000) == "1:01.5–2:05.0"


# -- probe helpers (pure functions) ----------------------------------------------------------------------


def test_probe_splits_utterances_over_speakers_and_trims_silence():
    assert probing.split_counts(10, 3) == [4, 3, 3] and sum(probing.split_counts(100, 8)) == 100
    speech = np.round(tone(16000, 0.5) * 32767).astype("<i2").tobytes()
    padded = bytes(3200) + speech + bytes(6400)
    assert len(probing.trim_silence(padded)) == pytest.approx(len(speech), abs=320)
    assert probing.trim_silence(bytes(3200)) == b""


def test_probe_cut_lag_matches_the_default_endpointer():
    # min_silence 300 ms minus the 200 ms of trailing audio the segment keeps.
    assert probing.default_cut_lag_ms() == 100


def test_probe_percentiles_ignore_missing_values():
    figures = probing.percentiles([1.0, None, 2.0, 3.0, 4.0])
    assert figures["n"] == 4 and figures["p50"] == 2.5
    assert probing.percentiles([])["p50"] is None


def test_probe_traces_a_session_into_utterances():
    config = probing.ProbeConfig(targets=("es",), synthesize=True)
    clip = probing.Clip("Hi there.", 150, 50, b"\0" * 32000)  # 1 s
    placed = [probing.Placed(clip, 300, 1300), probing.Placed(clip, 2000, 3000)]
    t0 = 1000.0
    stage = {"asr": 400.0, "translate": 10.0, "bus": 1.0}
    arrivals = [
        (t0 + 1.5, {"type": "segment", "segment_index": 0, "start_ms": 100, "end_ms": 1500}),
        (t0 + 2.0, {"type": "transcript", "segment_index": 0, "text": "Hi there.", "latency_ms": 399.0}),
        (t0 + 2.1, {"type": "translation", "segment_index": 0, "target_language": "es", "text": "Hola.", "latency_ms": 499.0, "stage_ms": stage}),
        (t0 + 2.2, {"type": "audio", "segment_index": 0, "language": "es", "latency_ms": 599.0, "stage_ms": {**stage, "tts": 20.0}}),
        (t0 + 3.3, {"type": "segment", "segment_index": 1, "start_ms": 1800, "end_ms": 3200}),
        (t0 + 4.0, {"type": "warning", "segment_index": 1, "code": "translation_unavailable", "target_language": "es", "reason": "down"}),
        (t0 + 4.1, {"type": "summary", "complete": True}),
    ]
    result = probing.trace_session(config, placed, [(at, from_dict(m)) for at, m in arrivals], t0, 1000, None, 0, 0, t0, 100)
    first, second = result.utterances
    assert first.broken is None and first.segments == [0]
    # End of utterance = t0 + (end_ms + cut lag) = t0 + 1.6 s.
    assert first.transcript_ms == pytest.approx(400.0) and first.translation_ms["es"] == pytest.approx(500.0)
    assert first.audio_ms["es"] == pytest.approx(600.0) and first.ingress_ms == pytest.approx(-100.0)
    assert first.text_stage_ms == stage and first.audio_stage_ms["tts"] == 20.0
    assert second.broken and "no transcript" in second.broken
    run = probing.ProbeRun(config, [result], 0.0, 5.0)
    figures = probing.summarize(run)
    assert figures["broken_chains"] == 1 and figures["utterances"] == 2
    assert figures["overhead_beyond_models_ms"]["p50"] == pytest.approx(90.0)
    assert json.dumps(probing.run_to_json(run, figures))  # serialisable for --json


def test_another_speakers_results_in_the_room_are_lines_of_their_own_not_this_sessions_rows(tmp_path):
    state = StreamState(out_dir=tmp_path / "out")
    state.apply(from_dict({"type": "ready", "source_language": "en", "target_languages": ["es"], "synthesize": False}))
    theirs = {"segment_index": 0, "room": "charla", "speaker": "9f3e2a1b-77", "history": False}
    assert state.apply(from_dict({"type": "partial", "stable_text": "Hola", "language": "es", **theirs})) == []
    assert state.partial is None  # the one live line is this session's own sentence
    assert state.apply(from_dict({"type": "transcript", "text": "Hola amigo.", "language": "es", **theirs})) == [
        "[9f3e2a1b] es: Hola amigo."]
    assert state.apply(from_dict({"type": "translation", "text": "Hello friend.", "target_language": "en",
                                  **theirs})) == ["[9f3e2a1b]     en: Hello friend."]
    assert state.rows == {}  # its segment 0 is not this session's segment 0
