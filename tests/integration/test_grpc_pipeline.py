"""Real speech over gRPC: the whole platform in one process (what `make run` serves, its gRPC ingress on a free port),
a spoken English talk streamed in real time through the Translate call, and its transcript, translation and
spoken translation coming back as typed messages while the talk goes on."""

from __future__ import annotations

import asyncio
import io
import re
import sys
import time
import wave
from pathlib import Path

import pytest

from babelstream.client.grpc_call import requests, translate
from babelstream.client.messages import Start
from babelstream.contracts.wav import wrap_pcm16
from tests.support.harness import frames_of, running_embedded_platform
from tests.support.pipeline_checks import UTTERANCES, talk_pcm
from tests.support.speech import corpus_wer

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
async def grpc_address():
    async with running_embedded_platform(grpc=True) as (_, address):
        yield address


@pytest.fixture(scope="module")
def talk_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("talk") / "talk.wav"
    path.write_bytes(wrap_pcm16(talk_pcm(), 16_000))
    return path


async def test_speech_over_grpc_is_transcribed_translated_and_spoken(grpc_address):
    arrivals: list[tuple[float, str]] = []
    began = time.monotonic()
    talk = await asyncio.to_thread(
        translate, grpc_address,
        requests(Start(language="en", targets=("es", "pt")), frames_of(talk_pcm()), frame_seconds=0.02),
        timeout=120, on_message=lambda case, _: arrivals.append((time.monotonic() - began, case)),
    )
    assert talk.code.name == "OK", (talk.code, talk.details)
    transcripts = talk.of("transcript")
    heard = [(text, said.text) for (text, _), said in zip(UTTERANCES, transcripts)]
    assert len(transcripts) == len(UTTERANCES) and corpus_wer(heard) <= 0.10, heard
    assert all(t.stage_ms["asr"] > 0 and t.event_id for t in transcripts)
    for target in ("es", "pt"):
        translations = [t for t in talk.of("translation") if t.target_language == target]
        assert [t.segment_index for t in translations] == [t.segment_index for t in transcripts]
        spoken = [a for a in talk.of("audio") if a.language == target]
        assert len(spoken) == len(UTTERANCES)
        for audio in spoken:
            with wave.open(io.BytesIO(audio.audio_wav)) as wav:  # the WAV itself, as bytes: no base64 on gRPC
                assert wav.getnframes() > 0 and wav.getframerate() == audio.sample_rate_hz
    for (_, expected), translation in zip(UTTERANCES, [t for t in talk.of("translation") if t.target_language == "es"]):
        assert expected & set(translation.text.lower().replace(".", " ").replace(",", " ").split()), translation.text
    summary = talk.of("summary")[0]
    assert summary.complete and summary.transcripts == len(UTTERANCES) and summary.translations == 2 * len(UTTERANCES)
    # Live: the first translation arrives while the rest of the talk is still being streamed (before the ack).
    first_translation = next(t for t, case in arrivals if case == "translation")
    assert first_translation < next(t for t, case in arrivals if case == "ack") - 1.0


async def run(*command: str, cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(*command, cwd=cwd, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, output.decode()


async def test_the_example_client_streams_a_file(grpc_address, talk_wav, tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "grpc_client.py"
    code, output = await run(sys.executable, str(example), str(talk_wav), "--to", "es", "--target", grpc_address,
                             cwd=tmp_path)
    assert code == 0, output
    assert "es: " in output and "casa" in output.lower() and "complete: true" in output
    # One file per utterance, named by its segment index (indexes may skip one: a withdrawn speculation's).
    spoken = sorted(path.name for path in tmp_path.glob("*.wav"))
    assert len(spoken) == 2 and spoken[0] == "translation-0-es.wav", spoken
    assert all(re.fullmatch(r"translation-\d+-es\.wav", name) for name in spoken), spoken


async def test_babelstream_stream_grpc_shows_the_captions(grpc_address, talk_wav, tmp_path):
    code, output = await run(sys.executable, "-m", "babelstream", "stream", str(talk_wav), "--to", "es",
                             "--grpc", grpc_address, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert code == 0, output
    assert "casa" in output.lower() and len(list((tmp_path / "out").glob("*.wav"))) == 2


async def test_babelstream_stream_grpc_resumes_by_itself_when_its_connection_drops(grpc_address, tmp_path, capsys):
    from types import SimpleNamespace

    from babelstream.clients.stream_grpc import stream_file_grpc
    from tests.support.resume import CuttableProxy, Talk, assert_resumed_without_loss, stream_cut_in_the_second_pause

    talk = Talk([text for text, _ in UTTERANCES * 2])
    path = tmp_path / "talk.wav"
    path.write_bytes(wrap_pcm16(talk.pcm, 16_000))
    async with CuttableProxy(grpc_address) as proxy:
        # The first call goes through the proxy, the resume to the gateway itself (--grpc a,b).
        args = SimpleNamespace(file=str(path), to="es", language="en", fast=False, out=str(tmp_path / "out"),
                               no_speech=True, grpc=f"{proxy.address},{grpc_address}")
        assert await stream_cut_in_the_second_pause(talk, proxy, stream_file_grpc(args)) == 0
    # Every sentence reaches the client once, and the resumed session's summary is complete: its old session has
    # ended by then, and its first results are read back from what the in-memory bus retains (bus/memory.py).
    assert_resumed_without_loss(capsys.readouterr().out, talk)
