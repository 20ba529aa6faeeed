"""Gateway configuration. Every field is read from the environment variable of the same name (upper case)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator
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
    max_session_seconds: float = 60.0
    max_messages_per_second: int = 200
    # Browsers' Origins allowed to open a session. Empty allows the gateway's own origin only (and clients that
    # send none: they are not browsers), so a page on another site cannot use a person's local gateway;
    # "*" allows any. See gateway/access/origins.py.
    origin_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    # After {"event":"done"}: how long to wait for outstanding results before the summary and close.
    results_timeout_seconds: float = 30.0
    # "live" cuts utterances at pauses as they are spoken; "single" sends one AudioInputEvent at done.
    default_mode: str = "live"
    default_source_language: str = "en"
    default_target_languages: Annotated[tuple[str, ...], NoDecode] = ("es",)
    _split_origins = field_validator("origin_allowlist", "default_target_languages", mode="before")(
        classmethod(lambda cls, value: _comma_list(value))
    )

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
