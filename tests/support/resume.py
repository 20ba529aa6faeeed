"""A live speaker whose socket (or gateway) can die mid-talk, and who comes back with a resume message."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable

from babelstream.client.connection import AudioConnection, Closed
from tests.support.harness import Conversation, frames_of

RESULT_TYPES = ("transcript", "translation", "audio")


class ResumingSpeaker:
    """Sends `pcm` in real time, frame by frame; each socket it opens is one `Conversation` in `legs`."""

    def __init__(self, pcm: bytes, start: dict, frame_ms: int = 20):
        self.frames = frames_of(pcm, frame_ms)
        self.frame_ms = frame_ms
        self.start = start
        self.sent = 0  # frames handed to a socket so far, over every leg
        self.legs: list[Conversation] = []
        self.resume_seconds: list[float] = []  # per resume: from the resume message sent to `resumed` received
        self._connection: AudioConnection | None = None
        self._reader: asyncio.Task | None = None

    @property
    def sent_ms(self) -> int:
        return self.sent * self.frame_ms

    @property
    def messages(self) -> list[dict]:
        return [message for leg in self.legs for message in leg.messages]

    def of_type(self, kind: str) -> list[dict]:
        return [m for m in self.messages if m.get("type") == kind]

    def received_event_ids(self) -> list[str]:
        return [m["event_id"] for m in self.messages if m.get("type") in RESULT_TYPES]

    async def connect(self, address: str, first: dict | None = None) -> Conversation:
        """Opens a socket and sends `first` (the start message unless told otherwise)."""
        leg = Conversation()
        self.legs.append(leg)
        connection = self._connection = await AudioConnection.open(f"ws://{address}/ws/audio")
        leg.messages.append(connection.connected.data)

        sent_at = time.monotonic()

        async def read() -> None:
            async for message in connection.messages():
                leg.messages.append(message.data)
                if message.data.get("type") == "resumed":
                    self.resume_seconds.append(time.monotonic() - sent_at)
            leg.close_code = connection.close_code

        self._reader = asyncio.create_task(read())
        sent_at = time.monotonic()
        await connection.send_raw(json.dumps(first if first is not None else self.start))
        return leg

    async def resume(self, address: str, **fields) -> Conversation:
        """Comes back to `address` with the first leg's session and the last token it was given."""
        first = self.legs[0].messages[0]
        tokens = [m["resume_token"] for m in self.messages if "resume_token" in m]
        message = {
            **self.start, "event": "resume", "correlation_id": first["correlation_id"], "resume_token": tokens[-1],
            "audio_ms": self.sent_ms, "received": self.received_event_ids(), **fields,
        }
        return await self.connect(address, message)

    async def talk(self, stop_when: Callable[[], bool] = lambda: False) -> bool:
        """Sends the frames not sent yet at real-time pace; False when it stopped early (`stop_when`, or the socket
        died: the frames sent into it count as sent, as for a real client that cannot know)."""
        loop = asyncio.get_running_loop()
        began, first = loop.time(), self.sent
        while self.sent < len(self.frames):
            if stop_when() or self._reader.done():
                return False
            try:
                await self._connection.send_audio(self.frames[self.sent])
            except Closed:
                return False
            self.sent += 1
            await asyncio.sleep(max(0.0, began + (self.sent - first) * self.frame_ms / 1000 - loop.time()))
        return True

    async def finish(self, timeout: float = 120.0) -> Conversation:
        """Done, then every message up to the close."""
        await self._connection.send_done()
        await asyncio.wait_for(self._reader, timeout)
        return self.legs[-1]

    async def dropped(self, timeout: float = 30.0) -> None:
        """Until the server's side of the socket is gone (its process killed)."""
        await asyncio.wait_for(self._reader, timeout)

    def drop(self) -> None:
        """The network dies: the TCP connection is cut, no close frame."""
        self._connection._ws.transport.abort()


def assert_each_result_once(messages: list[dict]) -> None:
    counts = Counter(m["event_id"] for m in messages if m.get("type") in RESULT_TYPES)
    assert counts and max(counts.values()) == 1, [e for e, n in counts.items() if n > 1]
    transcripts = Counter(m["segment_index"] for m in messages if m.get("type") == "transcript")
    assert max(transcripts.values()) == 1, transcripts


class Talk:
    """Sentences with pauses between them, and where each sentence's speech lies in the stream (ms)."""

    def __init__(self, sentences: list[str], pause_ms: int = 900, lead_ms: int = 300):
        from tests.support.speech import silence, synthesize

        self.pcm = silence(lead_ms)
        self.spans: list[tuple[str, int, int]] = []
        for text in sentences:
            speech = synthesize(text)
            start = len(self.pcm) // 32
            self.pcm += speech
            self.spans.append((text, start, len(self.pcm) // 32))
            self.pcm += silence(pause_ms)

    def speaking_at(self, ms: int) -> int | None:
        """The sentence being spoken at `ms` into the stream, if any."""
        return next((i for i, (_, start, end) in enumerate(self.spans) if start + 300 <= ms <= end - 300), None)

    def pausing_after(self, ms: int) -> int | None:
        """The sentence whose pause `ms` is in, well clear of both ends (the endpointer has cut it by then)."""
        return next((i for i, (_, _, end) in enumerate(self.spans) if end + 500 <= ms <= end + 700), None)

    def transcripts_of(self, messages: list[dict], index: int) -> list[dict]:
        """The transcripts whose stream position overlaps sentence `index`'s speech."""
        _, start, end = self.spans[index]
        return [m for m in messages if m.get("type") == "transcript" and m["start_ms"] < end and m["end_ms"] > start]


class CuttableProxy:
    """A TCP proxy in front of a gateway whose connections the test can cut, as a network that drops."""

    def __init__(self, target: str):
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self._server: asyncio.AbstractServer | None = None
        self._transports: list[asyncio.StreamWriter] = []
        self.address = ""

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.address = "127.0.0.1:%d" % self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.cut()
        self._server.close()

    def cut(self) -> None:
        for writer in self._transports:
            writer.transport.abort()
        self._transports.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(self.host, self.port)
        self._transports += [client_writer, server_writer]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))


async def stream_cut_in_the_second_pause(talk: Talk, proxy: CuttableProxy, streaming) -> int:
    """Runs a `babelstream stream` client (`streaming`, a coroutine streaming `talk` in real time through `proxy`)
    and cuts its connection in the pause after the second sentence; its exit code."""
    task = asyncio.ensure_future(streaming)
    await asyncio.sleep((talk.spans[1][2] + 650) / 1000)  # real time: the stream is that far after as many seconds
    proxy.cut()
    return await task


def assert_resumed_without_loss(out: str, talk: Talk) -> None:
    """What `babelstream stream` printed after a resume: each sentence transcribed once, none lost, and the server's
    summary complete."""
    from tests.support.speech import corpus_wer

    assert "resuming the session" in out and "resumed: session" in out, out
    transcripts = [line.split(" en: ", 1)[1].rsplit("  (", 1)[0] for line in out.splitlines() if " en: " in line]
    assert len(transcripts) == len(talk.spans), out
    assert corpus_wer([(text, said) for (text, _, _), said in zip(talk.spans, transcripts)]) <= 0.15, out
    assert "complete" in out.splitlines()[-1] and "INCOMPLETE" not in out
