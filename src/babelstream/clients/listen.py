"""`babelstream listen --room R --lang es`: a room's captions and translation, live, one line per message.

History (what was said before this listener came) is printed first and marked; spoken audio is not asked for
(a terminal shows text), nor interim results (a line is printed once, when the sentence is final). The command ends when the server closes the socket or on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TextIO

from babelstream.client.connection import ConnectFailed, Refused
from babelstream.client.listen import ListenConnection
from babelstream.client.messages import (
    Audience,
    ErrorMessage,
    Listening,
    ServerMessage,
    Transcript,
    Translation,
    WarningMessage,
)


def line_for(message: ServerMessage) -> str | None:
    """What one message prints as; None for what a reader of captions does not need."""
    earlier = "(earlier) " if getattr(message, "history", False) else ""
    if isinstance(message, Transcript):
        return f"{earlier}[{message.speaker[:8]}] {message.language}: {message.text}"
    if isinstance(message, Translation):
        return f"{earlier}{' ' * 11}{message.target_language}: {message.text}"
    if isinstance(message, Listening):
        return f"listening to room {message.room} in {message.language}" + (
            f"; {message.history} earlier messages follow" if message.history else ""
        )
    if isinstance(message, WarningMessage):
        return f"warning ({message.kind}): {message.reason}"
    if isinstance(message, ErrorMessage):
        return f"error ({message.kind}): {message.reason}"
    if isinstance(message, Audience):
        return None
    return None


async def listen_to_room(args, out: TextIO = sys.stdout) -> int:
    server = args.url
    try:
        connection = await ListenConnection.open(
            server, room=args.room, language=args.lang, voice=False, partials=False, token=getattr(args, "token", None)
        )
    except Refused as refused:
        print(f"refused ({refused.error.kind}, close {refused.close_code}): {refused.error.reason}", file=sys.stderr)
        return 1
    except ConnectFailed as failed:
        print(str(failed), file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop.set)

    async def show() -> None:
        async for message in connection.messages():
            line = line_for(message)
            if line is not None:
                print(line, file=out, flush=True)

    reader = asyncio.create_task(show())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({reader, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not reader.done():
        await connection.close()
        await reader
        return 0
    code = connection.close_code
    return 0 if code in (1000, 1001) else 1
