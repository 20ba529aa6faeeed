"""Gateway configuration. Every field is read from the environment variable of the same name (upper case)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator
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
    # Empty allows any Origin (non-browser clients send none).
    origin_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    # After {"event":"done"}: how long to wait for outstanding results before the summary and close.
    results_timeout_seconds: float = 30.0
    # "live" cuts utterances at pauses as they are spoken; "single" sends one AudioInputEvent at done.
    default_mode: str = "live"
    # What serves /ws/audio on the gateway's port: "native" (gateway/websocket/audio_socket.py) or "picows"
    # (picows_socket.py); docs/benchmarks/gateway-capacity.md compares them.
    ws_audio_server: Literal["native", "picows"] = "native"
    default_source_language: str = "en"
    default_target_languages: Annotated[tuple[str, ...], NoDecode] = ("es",)
    _split_origins = field_validator("origin_allowlist", "default_target_languages", mode="before")(
        classmethod(lambda cls, value: _comma_list(value))
    )
