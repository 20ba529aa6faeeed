"""WebSocket close codes the gateway uses (RFC 6455 section 7.4.1), each with the situation it means."""

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000  # stream finished and answered
    GOING_AWAY = 1001  # idle: no frame for IDLE_TIMEOUT_SECONDS
    PROTOCOL_ERROR = 1002  # frames that break RFC 6455 (unmasked, reserved bits, bad opcode)
    UNSUPPORTED_DATA = 1003  # unexpected or malformed text, or a stream with no audio
    INVALID_PAYLOAD = 1007  # a binary frame that is not whole PCM16 samples, or a text frame that is not UTF-8
    POLICY_VIOLATION = 1008  # Origin refused, rate exceeded, session too long
    MESSAGE_TOO_BIG = 1009  # frame over MAX_CHUNK_BYTES or buffer over MAX_BUFFER_BYTES
    INTERNAL_ERROR = 1011  # the bus could not take the audio after a bounded retry
    SERVICE_RESTART = 1012  # the gateway is shutting down (audio held so far is published first)
    TRY_AGAIN_LATER = 1013  # at MAX_CONNECTIONS, or the bus is unreachable
