"""Gateway configuration. Every field is read from the environment variable of the same name (upper case)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

from babelstream.contracts import limits


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # The gRPC ingress (gateway/grpc/, docs/protocol.md "gRPC"): the same sessions as /ws/audio on this port, on HOST,
    # over TLS when SSL_CERTFILE is set. 0: no gRPC ingress.
    grpc_port: int = 50051
    # TLS: a PEM certificate (chain) and its private key. Set, `serve`/`gateway` answer https:// and wss:// on PORT;
    # unset, plain HTTP: loopback, or behind a reverse proxy that terminates TLS (README, "On a network").
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None  # may be left unset when SSL_CERTFILE holds the key too
    # Each live stream costs a little CPU (VAD) and memory; the operator sizes this to the machine.
    max_connections: int = 10
    # One WebSocket frame; 65536 bytes is ~2 s of 16 kHz PCM16, far more than a client needs per frame.
    max_chunk_bytes: int = 65_536
    # Buffered audio of a one-event ("single") session. The WAV header must still fit under the inline cap:
    # the original design set both to the cap, so a full buffer made an event it could not send.
    max_buffer_bytes: int = limits.MAX_PAYLOAD_BYTES - limits.WAV_HEADER_BYTES
    idle_timeout_seconds: float = 10.0
    # What may wait to be sent to one client; a client that does not read is closed (slow_reader) past it.
    # A spoken translation is a base64 WAV of a few hundred KB: room for a dozen before the client is given up.
    max_send_queue_bytes: int = 4 * 1024 * 1024
    max_session_seconds: float = 60.0
    max_messages_per_second: int = 200
    # Seconds of audio per second a live or single session may send on average, after a burst of this many seconds
    # (a client catching up after a network stall): each second of speech is ASR, MT and TTS work downstream.
    max_audio_speed: float = 1.5
    max_audio_burst_seconds: float = 10.0
    # "batch": a recording sent faster than real time (`babelstream stream --fast`), in a pool of its own.
    max_batch_sessions: int = 1
    max_batch_audio_speed: float = 20.0
    # How much audio one batch session may carry (also its wall-clock limit, in place of MAX_SESSION_SECONDS).
    max_batch_audio_seconds: float = 3600.0
    # Browsers' Origins allowed to open a session. Empty allows the gateway's own origin only (and clients that
    # send none: they are not browsers), so a page on another site cannot use a person's local gateway;
    # "*" allows any. See gateway/access/origins.py.
    origin_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    # After {"event":"done"}: how long to wait for outstanding results before the summary and close.
    results_timeout_seconds: float = 30.0
    # The reply partition this gateway's sessions' results come back on (docs/kafka.md, "Reply routing"). -1: a
    # hash of its instance id; gateways numbered 0..N-1 with N <= KAFKA_REPLY_PARTITIONS never share one.
    gateway_reply_partition: int = -1
    # "live" cuts utterances at pauses as they are spoken; "single" sends one AudioInputEvent at done.
    default_mode: str = "live"
    default_source_language: str = "en"
    default_target_languages: Annotated[tuple[str, ...], NoDecode] = ("es",)
    # Interim results (`partial` messages) for sessions that do not say; the start message's "partials" overrides.
    partials: bool = True
    # A window of the open utterance's new audio goes to the ASR partial worker every this many ms of it.
    partial_interval_ms: int = Field(500, ge=100, le=5000)
    # A speculated utterance whose transcript reads as a finished English sentence is shown before MIN_SILENCE_MS,
    # once the speaker has been quiet EARLY_END_PAUSE_MS (longer than a pause inside a sentence; the detector's
    # hangover not counted as speech). docs/benchmarks/interim-results.md.
    early_end_on_sentence: bool = False
    early_end_pause_ms: int = Field(300, ge=0, le=10_000)
    # Before a socket is a session (docs/security.md, "Connection limits"; gateway/socket_limits.py). A request
    # head (request line and headers) over this is refused 431: real ones, a JWT in the query included, stay
    # under 8 KiB; unbounded, one 100 MiB head cost 14 s of CPU while every live stream waited.
    max_header_bytes: int = 16_384
    # A socket must complete its request head within this long of opening (of its first byte, on a kept-alive
    # connection) or it is closed: silent sockets and slowloris heads would otherwise be held for ever.
    handshake_timeout_seconds: float = 5.0
    # Open sockets of any kind; past it a new one is closed as it opens, before a byte is read. A process carries
    # 1,000-1,300 live streams (docs/benchmarks/gateway-capacity.md): 4096 leaves three times that for pages, API
    # calls and reconnects, and keeps the worst case (each socket holding a 16 KiB head) near 100 MiB.
    max_sockets: int = 4096
    # Open sockets from one address (an IPv6 /64): a household or an office behind one NAT, each browser with a
    # WebSocket and a few HTTP connections, fits; one host cannot take the server's sockets for itself.
    max_connections_per_ip: int = 64
    # WebSocket upgrade requests per second from one address, a token bucket holding one second's worth: a page's
    # reconnects pass, a handshake flood (each one costs a credential check and a session) gets 429.
    max_handshakes_per_second_per_ip: int = 10
    # Addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client. Empty trusts none: the peer is
    # the client. uvicorn's own default (127.0.0.1) is replaced by this, so limits and logs see the same client.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    _split_origins = field_validator(
        "origin_allowlist", "default_target_languages", "trusted_proxies", mode="before"
    )(classmethod(lambda cls, value: _comma_list(value)))

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in value:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names it; uvicorn would take it for a host name
        return value

    # Rooms (gateway/rooms/, docs/protocol.md "Rooms"). A speaker in a room may talk this long (a lecture, a service);
    # MAX_SESSION_SECONDS stays the limit of a session without a room.
    room_speaker_max_seconds: float = 4 * 3600.0
    # What a listener who arrives late reads first: the room's last utterances in its language.
    room_history_utterances: int = 20
    # A room silent this long forgets its history, and is forgotten once nobody is in it. A new gateway reads
    # back this far on the bus for the rooms' history.
    room_idle_seconds: float = 900.0
    # A listener who is a room's first member on this gateway waits for the room's history to be read back from the
    # bus (its reply partition, from ROOM_IDLE_SECONDS back) at most this long; then it gets what was read.
    room_history_wait_seconds: float = 5.0
    # Rooms with a member on this gateway; past it a new room is refused (capacity, 1013).
    max_rooms: int = 100
    # Listeners of one room, counted on every gateway (from their presence records); past it, capacity (1013).
    max_listeners_per_room: int = 2000
    # Listeners on this gateway, a pool apart from MAX_CONNECTIONS (a listener costs no audio work); every listener
    # is also a socket under MAX_SOCKETS.
    max_listeners: int = 3000
    # What may wait to be sent to one listener. Past a quarter of it spoken audio is skipped (text first); past it
    # the listener is closed (slow_reader, 1008), and the room goes on without it.
    max_listener_queue_bytes: int = 2 * 1024 * 1024
    # Every listener is pinged this often and closed (1001 `idle`) if it did not answer the ping before: a listener
    # only listens, so a peer whose network died would otherwise hold its place in a silent room for ever.
    # Also what keeps a proxy with an idle timeout from cutting a quiet room's listeners.
    listener_ping_seconds: float = 30.0

    # Admission from what is measured (gateway/pipeline_load.py): a new speaker is refused (1013 `overloaded`) while
    # more utterances than this wait for the ASR stage, or while this gateway's end-of-utterance latency P95 over the
    # last ADMISSION_WINDOW_SECONDS is over ADMISSION_MAX_P95_MS. 0 turns a check off. The backlog is what the ASR
    # group has not committed, those in a batch included: 16 leaves one full default batch (ASR_BATCH_SIZE 8)
    # decoding and one waiting; at 8, one batch in flight read as a full backlog and refused speakers it could serve.
    admission_max_asr_backlog: int = 16
    admission_max_p95_ms: float = 1500.0
    # Speculation (SPECULATE_MS) costs the ASR stage a decode each time the speaker goes on after a short pause
    # (0.5 more per utterance, measured: docs/benchmarks/interim-results.md). While more utterances than this
    # wait for it or are in its batches, sessions stop speculating, so the decodes that count go first. 0: always.
    speculate_max_asr_backlog: int = 4
    # A speculation decodes the whole utterance so far, and in run-on speech most are withdrawn: about a third of a
    # lone stream's CPU on long utterances (docs/benchmarks/interim-results.md). Past this length (ms) an utterance is
    # cut at the full pause only; the fast end of an utterance is for sentences (2-5 s). 0: any length.
    speculate_max_utterance_ms: int = 8000
    admission_window_seconds: float = 30.0

    # Resuming a session (gateway/resume_token.py, docs/protocol.md "Resuming a session"). The key of the resume
    # tokens' HMAC-SHA256, at least 32 bytes, the same on every gateway a client may come back to. Unset: a random key
    # per process, so a session resumes only on the gateway that started it (after a dropped network, not a dead
    # process).
    resume_secret: SecretStr | None = None
    # How long after its session could last at most (MAX_SESSION_SECONDS, ROOM_SPEAKER_MAX_SECONDS or
    # MAX_BATCH_AUDIO_SECONDS, the longest) a resume token is still taken: the time a client has to come back.
    resume_ttl_seconds: float = Field(300.0, gt=0)

    @field_validator("resume_secret")
    @classmethod
    def _resume_secret_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("RESUME_SECRET must be at least 32 bytes (an HMAC-SHA256 key)")
        return value

    # Access control (gateway/access/, docs/security.md). Auth is on iff one of the three credential sources is
    # set; without any, `serve`/`gateway` refuse a non-loopback --host unless --insecure is given.
    # `name:sha256-hex-of-secret` lines, reloaded when the file changes (`babelstream keys add NAME`).
    api_keys_file: Path | None = None
    # HS256 shared secret, at least 32 bytes (RFC 7518 3.2). SecretStr: never printed by a repr or a log.
    jwt_secret: SecretStr | None = None
    # RS256/ES256 verification key: PEM text, or the path of a PEM file (read once at start).
    jwt_public_key: str | None = None
    # Every token's `aud` must name this audience.
    jwt_audience: str = "babelstream"
