"""Watching a gateway's sessions from a test: which started, how each ended, and results to hand one."""

from __future__ import annotations

import asyncio

from babelstream.contracts.events import Event, SessionOptions, TextRecognizedPayload
from babelstream.gateway.session_context import SessionObserver


class Sessions(SessionObserver):
    """The sessions the gateway ran, and how each ended."""

    def __init__(self) -> None:
        self.started = []
        self.ended: dict[str, str | None] = {}

    def session_started(self, session) -> None:
        self.started.append(session)

    def session_ended(self, session, ended) -> None:
        self.ended[session.correlation_id] = ended.kind if ended else None


async def until(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def transcript(index: int, text: str) -> Event:
    options = SessionOptions("en", (), False, "gateway-test")
    return Event(
        payload=TextRecognizedPayload(text=text, language="en", confidence=0.9, segment_index=index, start_ms=0,
                                      end_ms=1000, options=options),
        correlation_id="c",
        source_service="asr-test",
    )
