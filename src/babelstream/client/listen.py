"""One `/ws/listen` socket from the client's side: a room's results, in one language, on the `websockets` library.

    listener = await ListenConnection.open("ws://127.0.0.1:8000", room="aula-1", language="pt")  # audio="opus"
    async with listener:
        async for message in listener.messages():   # listening, the room's history, then live results
            ...
        await listener.listen(language="es")         # from the next utterance on

It opens like an AudioConnection: `connected` first, or the server's error and its close code (Refused). Spoken
translations are `Audio` messages whose `.audio` is an Ogg Opus file (`audio="opus"`, the default, format
"ogg_opus"), or a WAV (`audio="wav"` in a binary frame, `audio="json"` base64 in a text one).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import AsyncIterator
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from babelstream.client.connection import Closed, ConnectFailed, Refused
from babelstream.client.messages import Connected, ErrorMessage, ServerMessage, parse, parse_audio_frame


def listen_url(server: str, room: str, language: str, *, voice: bool = True, audio: str = "opus",
               partials: bool = True, token: str | None = None) -> str:
    """`server`: ws://host:port (or an http(s):// page address, or a /ws/audio URL: the same host)."""
    base = server.rstrip("/")
    for scheme, ws in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(scheme):
            base = ws + base[len(scheme):]
    if base.endswith("/ws/audio"):
        base = base[: -len("/ws/audio")]
    query = {"room": room, "lang": language, **({} if voice else {"voice": "0"}),
             **({} if partials else {"partials": "0"}), "audio": audio,
             **({"token": token} if token else {})}
    return f"{base}/ws/listen?{urlencode(query)}"


class ListenConnection:
    def __init__(self, websocket: ClientConnection, url: str, connected: Connected):
        self._ws = websocket
        self.url = url
        self.connected = connected

    @classmethod
    async def open(cls, server: str, *, room: str, language: str, voice: bool = True, audio: str = "opus",
                   partials: bool = True, token: str | None = None, origin: str | None = None,
                   open_timeout: float = 10.0) -> ListenConnection:
        """`partials`: the room's interim results (`partial`, `partial_translation`) while its speakers speak."""
        url = listen_url(server, room, language, voice=voice, audio=audio, partials=partials, token=token)
        headers = {"Origin": origin} if origin else None
        try:
            websocket = await connect(url, additional_headers=headers, max_size=None, open_timeout=open_timeout)
        except (OSError, InvalidURI, InvalidHandshake, TimeoutError, asyncio.TimeoutError) as error:
            raise ConnectFailed(url, error) from error
        try:
            first = parse(await asyncio.wait_for(websocket.recv(), open_timeout), received_at=time.perf_counter())
        except (ConnectionClosed, asyncio.TimeoutError) as error:
            await websocket.close()
            raise ConnectFailed(url, error) from error
        if isinstance(first, ErrorMessage):
            try:
                await asyncio.wait_for(websocket.wait_closed(), open_timeout)
            except asyncio.TimeoutError:
                await websocket.close()
            raise Refused(url, first, websocket.close_code)
        if not isinstance(first, Connected):
            await websocket.close()
            raise ConnectFailed(url, ValueError(f"the server spoke first with {first.data!r}, not `connected`"))
        return cls(websocket, url, first)

    async def __aenter__(self) -> ListenConnection:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def listen(self, *, language: str | None = None, voice: bool | None = None) -> None:
        """Change what this listener reads or hears (the server answers `listening`)."""
        change: dict = {"event": "listen"}
        if language is not None:
            change["lang"] = language
        if voice is not None:
            change["voice"] = voice
        await self._ws.send(json.dumps(change))

    async def receive(self) -> ServerMessage:
        try:
            raw = await self._ws.recv()
        except ConnectionClosed as error:
            raise Closed(self.close_code, self.close_reason) from error
        if isinstance(raw, bytes):  # a spoken translation (docs/protocol.md, "Rooms")
            return parse_audio_frame(raw, received_at=time.perf_counter())
        return parse(raw, received_at=time.perf_counter())

    async def messages(self) -> AsyncIterator[ServerMessage]:
        while True:
            try:
                yield await self.receive()
            except Closed:
                return

    async def close(self) -> None:
        await self._ws.close()

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str:
        return self._ws.close_reason or ""
