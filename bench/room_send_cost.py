"""What handing one room message to each of N listeners costs the gateway in Python, per listener.

A room encodes each result once and hands the same str to every member (rooms/directory.py); each member's
connection then sends it (websocket/connection.py `send_text`). Measured here, paired in one process, with a
transport that only counts bytes (no socket: the kernel's part is not in these figures; see bench/room_fanout.py):

  per connection   the frame built for each connection: `encode_frame(TEXT, text.encode())`, what `send_text`
                   did before the frame was shared (the reference)
  send_text        the connection's `send_text` as it is: the frame built once, for the first connection given
                   that str, and the same bytes written for the others

for a spoken translation (a 2.5 s 22,050 Hz WAV in base64 JSON: ~147 KB) and a translation (~0.2 KB). Best of
--rounds rounds of --n listeners, alternating.

    .venv/bin/python bench/room_send_cost.py
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time

from babelstream.gateway.websocket.connection import WebSocketConnection
from babelstream.gateway.websocket.frames import TEXT, encode_frame


class CountingTransport:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def writable(self) -> bool:
        return True

    def close_now(self) -> None:
        pass

    def close_after_timeout(self) -> None:
        pass


class NoHandler:
    pass


def messages() -> dict[str, str]:
    audio = base64.b64encode(os.urandom(110_294)).decode()
    return {
        "audio (~147 KB)": json.dumps({"type": "audio", "segment_index": 3, "language": "es", "audio_b64": audio,
                                       "event_id": "6f1d7c1e-8a4e-4b8e-9a59-0c9f3a2d5b11", "room": "aula-1"}),
        "translation (~0.3 KB)": json.dumps({"type": "translation", "segment_index": 3, "target_language": "es",
                                             "text": "Buenos días a todos y bienvenidos a la reunión semanal.",
                                             "event_id": "6f1d7c1e-8a4e-4b8e-9a59-0c9f3a2d5b11", "room": "aula-1"}),
    }


def per_connection(transports: list[CountingTransport], text: str) -> None:
    for transport in transports:
        transport.write(encode_frame(TEXT, text.encode()))


def send_text(connections: list[WebSocketConnection], text: str) -> None:
    for connection in connections:
        connection.send_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="listeners a message goes to")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"{args.n} listeners, best of {args.rounds} rounds each, alternating; µs per listener")
    print("| message | per connection (reference) | send_text | × reference |")
    print("|---|---:|---:|---:|")
    for label, text in messages().items():
        best = {"reference": float("inf"), "send_text": float("inf")}
        for _ in range(args.rounds):
            transports = [CountingTransport() for _ in range(args.n)]
            began = time.perf_counter()
            per_connection(transports, text)
            best["reference"] = min(best["reference"], (time.perf_counter() - began) / args.n)
            connections = [WebSocketConnection(NoHandler(), CountingTransport(), 65_536) for _ in range(args.n)]
            text = text[:-1] + text[-1:]  # a new str each round: its first send builds the frame, as in a room
            began = time.perf_counter()
            send_text(connections, text)
            best["send_text"] = min(best["send_text"], (time.perf_counter() - began) / args.n)
        ref, now = best["reference"] * 1e6, best["send_text"] * 1e6
        print(f"| {label} | {ref:.2f} | {now:.2f} | {now / ref:.2f} |")


if __name__ == "__main__":
    main()
