"""Size limits shared by every producer. Checked before sending, so an oversize event fails loudly, never silently."""

from babelstream.wav import WAV_HEADER_BYTES  # noqa: F401  (the gateway's buffer limit leaves room for it)

# Inline audio cap of the original design: larger audio must arrive as a stream and become segments.
MAX_PAYLOAD_BYTES = 1_572_864  # 1.5 MiB
# The broker's message.max.bytes (scripts/kafka.sh sets it; the producer matches it).
MAX_MESSAGE_BYTES = 2_097_152  # 2 MiB
# Kafka wraps each record in a batch header and record framing; keep room for it.
RECORD_OVERHEAD_BYTES = 512
