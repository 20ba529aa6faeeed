"""The gRPC ingress against the real server (grpc.aio on a real port, beside uvicorn, one event loop): the same
admission, limits, audio rule, credentials and metrics as /ws/audio, each limit with its status code and the same
`kind` (docs/protocol.md, "gRPC"); Languages, health and reflection. Real speech over gRPC: test_grpc_pipeline.py."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from babelstream.bus.event_publisher import EventPublisher
from babelstream.bus.memory import MemoryBus
from babelstream.client.grpc_call import HOLD, bearer, requests, translate
from babelstream.client.messages import Start
from babelstream.contracts.topics import SPEECH_SEGMENT
from babelstream.gateway.access.api_keys import add_key
from babelstream.v1 import stream_pb2, stream_pb2_grpc
from tests.support.sessions import Sessions, transcript, until
from tests.support.speech import silence
from tests.support.gateway_cases import CODEC, LIMIT_CASES, PCM, consume_all
from tests.support.harness import HOLD as WS_HOLD
from tests.support.harness import frames_of, grpc_address, running_gateway
from tests.support.rooms import RoomListener, room_results
from tests.support.unreachable_bus import UnreachableBus

S = grpc.StatusCode
# The WebSocket's close code -> the status a gRPC call ends with, for the same kind (docs/protocol.md).
STATUS = {"frame_too_large": S.RESOURCE_EXHAUSTED, "not_whole_samples": S.INVALID_ARGUMENT, "malformed": S.INVALID_ARGUMENT,
          "rate": S.RESOURCE_EXHAUSTED, "buffer_full": S.RESOURCE_EXHAUSTED, "session_too_long": S.OUT_OF_RANGE,
          "idle": S.DEADLINE_EXCEEDED, "empty_stream": S.INVALID_ARGUMENT}


async def call(gateway, request_stream, *, timeout: float = 30, **options):
    """One call with the client library's (blocking) client, in a thread: the server runs in this loop."""
    return await asyncio.to_thread(translate, grpc_address(gateway), request_stream, timeout=timeout, **options)


def aio_stream(messages):
    """For grpc.aio's own client (cancel, deadline, a client that never reads): then held open."""
    async def stream():
        for message in messages:
            yield message
        await asyncio.sleep(3600)
    return stream()


NO_RESULTS = Start(targets=(), wait_for_results=False)


async def test_a_session_over_grpc_is_the_websockets_session():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, grpc=True) as (gateway, _):
        talk = await call(gateway, requests(Start(targets=("es",), wait_for_results=False), frames_of(PCM)))
        events = await consume_all(bus, SPEECH_SEGMENT)
    assert talk.code == S.OK and talk.kind is None
    assert [case for case, _ in talk.messages] == ["connected", "ready", "segment", "ack", "summary"]
    ready = talk.of("ready")[0]
    assert (ready.mode, ready.sample_rate_hz, list(ready.target_languages)) == ("live", 16000, ["es"])
    assert ready.limits.max_messages_per_second == 200 and not ready.HasField("room")
    ack = talk.of("ack")[0]
    assert ack.correlation_id == talk.correlation_id and ack.received_bytes == len(PCM) and ack.segments == 1
    assert [event.event_id for _, event in events] == list(ack.event_ids) == [talk.of("segment")[0].event_id]
    assert {event.correlation_id for _, event in events} == {talk.correlation_id}
    assert gateway.metrics.registry.get_sample_value("babelstream_gateway_sessions_total", {"transport": "grpc"}) == 1


@pytest.mark.parametrize(
    ("frames", "settings", "kind", "reason"),
    [([HOLD if x is WS_HOLD else x for x in f], s, k, r) for f, s, _, k, r in LIMIT_CASES
     if all(isinstance(x, bytes) or x is WS_HOLD for x in f)],
    ids=lambda value: value if isinstance(value, str) and value in STATUS else "",
)
async def test_every_limit_ends_the_call_with_its_status_and_the_websockets_kind(frames, settings, kind, reason):
    async with running_gateway(MemoryBus(), CODEC, grpc=True, **settings) as (gateway, _):
        talk = await call(gateway, requests(None, frames))
        rejected = gateway.metrics.registry.get_sample_value(
            "babelstream_gateway_rejections_total", {"reason": kind, "transport": "grpc"})
    assert (talk.code, talk.kind) == (STATUS[kind], kind), talk.details
    assert reason in talk.details and talk.error.reason == talk.details and talk.error.kind == kind
    assert rejected == 1


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([stream_pb2.ClientMessage()], "must carry config, audio or done"),
        ([stream_pb2.ClientMessage(audio=stream_pb2.Audio(pcm=b"\0" * 640)),
          stream_pb2.ClientMessage(config=stream_pb2.Config())], "must come first"),
        ([stream_pb2.ClientMessage(config=stream_pb2.Config(sample_rate_hz=12345))], "is not supported"),
        ([stream_pb2.ClientMessage(config=stream_pb2.Config(mode="loud"))], "mode must be one of"),
        ([stream_pb2.ClientMessage(config=stream_pb2.Config(room="no spaces"))], "room"),
    ],
)
async def test_a_malformed_call_is_invalid_argument_checked_by_the_start_messages_own_parser(messages, reason):
    async with running_gateway(MemoryBus(), CODEC, grpc=True) as (gateway, _):
        talk = await call(gateway, [*messages, HOLD])
    assert (talk.code, talk.kind) == (S.INVALID_ARGUMENT, "malformed") and reason in talk.details


async def test_audio_much_faster_than_real_time_is_resource_exhausted_and_not_published():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, grpc=True, max_messages_per_second=100_000) as (gateway, _):
        talk = await call(gateway, requests(None, [b"\0" * 32_000] * 40 + [HOLD]))
        assert (talk.code, talk.kind) == (S.RESOURCE_EXHAUSTED, "audio_too_fast")
        assert await consume_all(bus, SPEECH_SEGMENT) == []


async def test_capacity_is_one_pool_for_both_doors():
    async with running_gateway(MemoryBus(), CODEC, grpc=True, max_connections=1) as (gateway, _):
        first = asyncio.create_task(call(gateway, requests(None, [b"\0" * 640, HOLD]), timeout=3))
        await until(lambda: gateway.slots.in_use == 1)
        second = await call(gateway, requests(None, [b"\0" * 640]))
        first.cancel()
    assert (second.code, second.kind, second.messages) == (S.RESOURCE_EXHAUSTED, "capacity", [])


async def test_a_call_while_the_bus_is_unreachable_is_unavailable_pipeline_unavailable():
    async with running_gateway(UnreachableBus(), CODEC, grpc=True) as (gateway, _):
        refused = await call(gateway, requests(None, [b"\0" * 640]))
        assert gateway.slots.in_use == 0
    assert (refused.code, refused.kind, refused.messages) == (S.UNAVAILABLE, "pipeline_unavailable", [])


async def test_a_key_in_the_metadata_opens_a_session_and_no_key_is_unauthenticated(tmp_path):
    path = tmp_path / "keys"
    key = add_key(path, "alice")
    async with running_gateway(MemoryBus(), CODEC, grpc=True, api_keys_file=str(path)) as (gateway, _):
        anonymous = await call(gateway, requests(NO_RESULTS, frames_of(PCM)))
        wrong = await call(gateway, requests(NO_RESULTS, frames_of(PCM)), metadata=bearer("bsk_not-a-key"))
        alice = await call(gateway, requests(NO_RESULTS, frames_of(PCM)), metadata=bearer(key))
        async with grpc.aio.insecure_channel(grpc_address(gateway)) as channel:
            stub = stream_pb2_grpc.BabelstreamStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Languages(stream_pb2.LanguagesRequest())
            languages = await stub.Languages(stream_pb2.LanguagesRequest(), metadata=bearer(key))
    assert (anonymous.code, anonymous.kind, anonymous.messages) == (S.UNAUTHENTICATED, "unauthenticated", [])
    assert (wrong.code, wrong.kind) == (S.UNAUTHENTICATED, "unauthenticated") and "bsk_not" not in wrong.details
    assert alice.code == S.OK and alice.of("summary")
    assert refused.value.code() == S.UNAUTHENTICATED and languages.default_source_language == "en"


async def test_a_cancelled_call_and_a_passed_deadline_publish_what_was_said():
    """The audio rule: a client that leaves (cancels, or its deadline passes) gets no results, but its audio is
    published, as for a WebSocket client that disconnects."""
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, grpc=True, idle_timeout_seconds=60) as (gateway, _):
        sessions_before = len(await consume_all(bus, SPEECH_SEGMENT))
        deadline = await call(gateway, requests(NO_RESULTS, frames_of(PCM) + [HOLD]), timeout=1.0)
        async with grpc.aio.insecure_channel(grpc_address(gateway)) as channel:
            cancelled = stream_pb2_grpc.BabelstreamStub(channel).Translate(aio_stream(requests(NO_RESULTS, frames_of(PCM), done=False)))
            await cancelled.read()  # connected
            await asyncio.sleep(0.5)
            cancelled.cancel()
        await until(lambda: gateway.slots.in_use == 0)
        events = await consume_all(bus, SPEECH_SEGMENT)
    assert deadline.code == S.DEADLINE_EXCEEDED and deadline.of("connected")
    assert sessions_before == 0 and len({event.correlation_id for _, event in events}) == 2


async def test_a_client_that_never_reads_is_ended_slow_reader_with_its_queue_bounded():
    """HTTP/2 flow control stops the writes; the outbox then fills to MAX_SEND_QUEUE_BYTES and the session ends."""
    sessions = Sessions()
    limit = 256 * 1024
    async with running_gateway(MemoryBus(), CODEC, grpc=True, observer=sessions, max_send_queue_bytes=limit,
                               idle_timeout_seconds=60) as (gateway, _):
        async with grpc.aio.insecure_channel(grpc_address(gateway)) as channel:
            call_ = stream_pb2_grpc.BabelstreamStub(channel).Translate(aio_stream(requests(Start(targets=()), [], done=False)))
            await until(lambda: sessions.started)
            session = sessions.started[0]
            big = "word " * 20_000
            for index in range(400):  # 40 MB if nothing bounded it
                session.on_result(transcript(index, big))
                await asyncio.sleep(0)
                if session.outbox.overflowed:
                    break
            await until(lambda: sessions.ended.get(session.correlation_id, "") == "slow_reader")
            await until(lambda: gateway.slots.in_use == 0)
            assert session.outbox.overflowed
            call_.cancel()
        rejected = gateway.metrics.registry.get_sample_value(
            "babelstream_gateway_rejections_total", {"reason": "slow_reader", "transport": "grpc"})
    assert rejected == 1


async def test_languages_answers_what_the_http_api_answers():
    async with running_gateway(MemoryBus(), CODEC, grpc=True, default_target_languages="es,pt") as (gateway, address):
        async with grpc.aio.insecure_channel(grpc_address(gateway)) as channel:
            answer = await stream_pb2_grpc.BabelstreamStub(channel).Languages(stream_pb2.LanguagesRequest())
    assert answer.default_source_language == "en" and list(answer.default_target_languages) == ["es", "pt"]
    assert not answer.HasField("quality_floor")  # no capabilities known: as the HTTP API's nulls


async def test_health_and_reflection_are_the_standard_services():
    async with running_gateway(MemoryBus(), CODEC, grpc=True) as (gateway, _):
        async with grpc.aio.insecure_channel(grpc_address(gateway)) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
            service = await health.Check(health_pb2.HealthCheckRequest(service="babelstream.v1.Babelstream"))
            reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

            async def ask(**request):
                replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]))
                return [reply async for reply in replies][0]

            listed = await ask(list_services="")
            described = await ask(file_containing_symbol="babelstream.v1.Babelstream")
    assert overall.status == service.status == health_pb2.HealthCheckResponse.SERVING
    names = {service.name for service in listed.list_services_response.service}
    assert {"babelstream.v1.Babelstream", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
    from google.protobuf import descriptor_pb2

    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in described.file_descriptor_response.file_descriptor_proto]
    assert any(file.name == "babelstream/v1/stream.proto" and file.service[0].method[0].name == "Translate"
               for file in files)


async def test_a_grpc_speaker_in_a_room_reaches_websocket_listeners_and_hears_the_other_speakers():
    """Rooms across doors: a gRPC speaker's results go to the room's WebSocket listeners, its audience is counted,
    and another speaker's results reach it (conversation mode) as typed messages with room, speaker and history."""
    bus = MemoryBus()
    sessions = Sessions()
    heard: list[tuple[str, object]] = []
    async with running_gateway(bus, CODEC, grpc=True, observer=sessions) as (gateway, address):
        listener = await RoomListener.join(address, "aula", "pt")
        speaking = asyncio.create_task(call(
            gateway, requests(Start(language="es", room="aula"), frames_of(silence(2500)), frame_seconds=0.02),
            on_message=lambda case, message: heard.append((case, message)),
        ))
        await until(lambda: sessions.started and sessions.started[0].room == "aula")
        speaker = sessions.started[0].correlation_id
        publisher = EventPublisher(bus, CODEC)
        for event in [*room_results("aula", speaker=speaker, source="es", targets=("pt",)),
                      *room_results("aula", speaker="other", source="en", targets=("es",), text="Hello.")]:
            await publisher.publish(event)
        translated = await listener.heard.wait_for(lambda m: m.get("type") == "translation")
        talk = await speaking
        await listener.leave()
    assert translated["speaker"] == speaker and translated["target_language"] == "pt"
    assert talk.code == grpc.StatusCode.OK and talk.of("ready")[0].room == "aula"
    assert talk.of("audience")[0].languages == {"pt": 1}
    others = [message for case, message in heard if case in ("transcript", "translation") and message.speaker]
    assert {(message.speaker, message.room, message.history) for message in others} == {("other", "aula", False)}
    assert [message.target_language for message in others if hasattr(message, "target_language")] == ["es"]


async def test_a_gateway_that_stops_ends_each_call_unavailable_shutdown_and_publishes_what_it_held():
    bus = MemoryBus()
    sessions = Sessions()
    async with running_gateway(bus, CODEC, grpc=True, observer=sessions, idle_timeout_seconds=60) as (gateway, _):
        talking = asyncio.create_task(call(gateway, requests(NO_RESULTS, frames_of(PCM) + [HOLD])))
        await until(lambda: sessions.started and sessions.started[0].received_bytes == len(PCM))
    talk = await talking
    assert (talk.code, talk.kind) == (S.UNAVAILABLE, "shutdown")
    assert {event.correlation_id for _, event in await consume_all(bus, SPEECH_SEGMENT)} == {talk.correlation_id}


async def test_bytes_that_are_not_a_client_message_end_the_call_protocol_error():
    def send_garbage(address: str):
        with grpc.insecure_channel(address) as channel:
            translate_raw = channel.stream_stream("/babelstream.v1.Babelstream/Translate",
                                                  request_serializer=lambda raw: raw, response_deserializer=bytes)
            call_ = translate_raw(iter([b"\xff\xff\xff"]), timeout=10)
            with pytest.raises(grpc.RpcError) as ended:
                list(call_)
            return ended.value

    async with running_gateway(MemoryBus(), CODEC, grpc=True) as (gateway, _):
        ended = await asyncio.to_thread(send_garbage, grpc_address(gateway))
    assert ended.code() == S.INVALID_ARGUMENT
    assert dict(ended.trailing_metadata())["babelstream-kind"] == "protocol_error"
    assert "not a babelstream.v1.ClientMessage" in ended.details()


async def test_a_call_counts_as_a_socket_toward_the_per_address_limits():
    async with running_gateway(MemoryBus(), CODEC, grpc=True, max_connections_per_ip=1) as (gateway, _):
        first = asyncio.create_task(call(gateway, requests(None, [b"\0" * 640, HOLD]), timeout=3))
        await until(lambda: gateway.slots.in_use == 1)
        crowded = await call(gateway, requests(None, [b"\0" * 640]))
        await first
        crowding = dict(gateway.socket_limits.refusals)
    async with running_gateway(MemoryBus(), CODEC, grpc=True, max_handshakes_per_second_per_ip=2) as (gateway, _):
        flood = await asyncio.gather(*(call(gateway, requests(NO_RESULTS, [b"\0" * 640])) for _ in range(4)))
        flooding = dict(gateway.socket_limits.refusals)
    assert (crowded.code, crowded.kind) == (S.RESOURCE_EXHAUSTED, "capacity") and "one address" in crowded.details
    assert crowding == {"connections_per_ip": 1}
    refused = [talk for talk in flood if talk.kind == "rate"]
    assert refused and {talk.code for talk in refused} == {S.RESOURCE_EXHAUSTED}
    assert flooding == {"handshakes_per_ip": len(refused)} and "a second from one address" in refused[0].details


async def test_metadata_over_max_header_bytes_end_the_call_before_it_is_a_session():
    """As a request head over MAX_HEADER_BYTES gets its 431 before anything starts: RESOURCE_EXHAUSTED, no message,
    no session, counted as `header_too_large`. Over gRPC's own, larger bound, gRPC refuses the call itself."""
    async with running_gateway(MemoryBus(), CODEC, grpc=True, max_header_bytes=4096) as (gateway, _):
        calls = [await call(gateway, requests(NO_RESULTS, [b"\0" * 640]), metadata=padding)
                 for padding in ((("x-padding", "a" * 4100),), (("x-a", "a" * 2500), ("x-b", "b" * 2500)))]
        sessions = gateway.metrics.registry.get_sample_value("babelstream_gateway_sessions_total", {"transport": "grpc"})
        refusals = dict(gateway.socket_limits.refusals)
        huge = await call(gateway, requests(NO_RESULTS, [b"\0" * 640]), metadata=(("x-padding", "a" * 20_000),))
        fine = await call(gateway, requests(NO_RESULTS, [b"\0" * 640]), metadata=(("x-padding", "a" * 3000),))
    for fat in calls:
        assert (fat.code, fat.messages, fat.kind) == (S.RESOURCE_EXHAUSTED, [], None)
        assert "metadata size" in fat.details and "MAX_HEADER_BYTES" in fat.details
    assert sessions is None and refusals == {"header_too_large": 2}
    assert (huge.code, huge.messages) == (S.RESOURCE_EXHAUSTED, []) and "metadata size" in huge.details
    assert fine.code == S.OK


async def test_a_trusted_proxys_x_forwarded_for_names_the_client_a_call_counts_against():
    """TRUSTED_PROXIES holds on the gRPC door as on the WebSocket one: from a trusted proxy, each call counts against
    the client its `x-forwarded-for` names; from anyone else, the header is not believed."""
    held = [b"\0" * 640, HOLD]

    async def two_clients(gateway, forwarded_for):
        first = asyncio.create_task(call(gateway, requests(None, held), timeout=3,
                                         metadata=(("x-forwarded-for", forwarded_for[0]),)))
        await until(lambda: gateway.slots.in_use == 1)
        second = await call(gateway, requests(None, [b"\0" * 640]), metadata=(("x-forwarded-for", forwarded_for[1]),))
        await first
        return second

    async def on_a_gateway(forwarded_for, **settings):
        async with running_gateway(MemoryBus(), CODEC, grpc=True, max_connections_per_ip=1, **settings) as (gateway, _):
            return await two_clients(gateway, forwarded_for)

    clients = ("203.0.113.7", "198.51.100.9")
    behind_proxy = await on_a_gateway(clients, trusted_proxies="127.0.0.1")
    same_client = await on_a_gateway(("203.0.113.7", "10.0.0.1, 203.0.113.7"), trusted_proxies="127.0.0.1")
    forged = await on_a_gateway(clients)
    assert behind_proxy.code == S.OK
    assert (same_client.code, same_client.kind) == (S.RESOURCE_EXHAUSTED, "capacity")
    assert (forged.code, forged.kind) == (S.RESOURCE_EXHAUSTED, "capacity")


async def test_a_call_resumes_a_session_with_the_token_its_connected_gave_and_a_forged_one_is_permission_denied():
    bus = MemoryBus()
    async with running_gateway(bus, CODEC, grpc=True) as (gateway, _):
        first = await call(gateway, requests(NO_RESULTS, frames_of(PCM)))
        connected = first.of("connected")[0]
        resume = stream_pb2.Resume(correlation_id=connected.correlation_id, resume_token=connected.resume_token,
                                   audio_ms=first.of("segment")[0].end_ms + 500)
        config = stream_pb2.Config(targets=stream_pb2.Targets(languages=[]), wait_for_results=False, resume=resume)
        audio = [stream_pb2.ClientMessage(audio=stream_pb2.Audio(pcm=frame)) for frame in frames_of(PCM)]
        second = await call(gateway, [stream_pb2.ClientMessage(config=config), *audio,
                                      stream_pb2.ClientMessage(done=stream_pb2.Done())])
        config.resume.resume_token = connected.resume_token[:-4] + "AAAA"
        forged = await call(gateway, [stream_pb2.ClientMessage(config=config), HOLD])
        sample = gateway.metrics.registry.get_sample_value
        counted = (sample("babelstream_gateway_resumes_total"),
                   sample("babelstream_gateway_rejections_total", {"reason": "resume_refused", "transport": "grpc"}))
    assert second.code == S.OK, second.details
    assert [case for case, _ in second.messages] == [
        "connected", "resumed", "ready", "warning", "segment", "ack", "summary"]
    resumed = second.of("resumed")[0]
    assert resumed.correlation_id == connected.correlation_id != second.of("connected")[0].correlation_id
    assert resumed.next_segment == 1 and resumed.audio_ms == resume.audio_ms > resumed.published_ms
    lost = second.of("warning")[0]
    assert lost.kind == "audio_lost" and (lost.start_ms, lost.end_ms) == (resumed.published_ms, resume.audio_ms)
    segment = second.of("segment")[0]
    assert segment.segment_index == 1 and segment.start_ms >= resume.audio_ms
    assert second.of("ack")[0].correlation_id == connected.correlation_id
    assert (forged.code, forged.kind) == (S.PERMISSION_DENIED, "resume_refused"), forged.details
    assert counted == (1, 1)
