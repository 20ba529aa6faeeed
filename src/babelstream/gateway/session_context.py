"""What a session is given by whoever runs it: everything it needs, and nothing of the gateway itself.

A `Session` is built from a connection and a `SessionContext`, so a test or a bench can build one with its own
publish, endpointer or observer, and the gateway is only the place where the real ones are put together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from babelstream.contracts.events import Event
from babelstream.engines.vad.utterance import Utterance
from babelstream.gateway.admission import ConnectionSlots
from babelstream.gateway.metrics import GatewayMetrics
from babelstream.gateway.resume_token import ResumeTokens
from babelstream.gateway.session_options import SessionOptionsResolver
from babelstream.gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from babelstream.gateway.errors import SessionEnded
    from babelstream.gateway.pipeline_load import PipelineLoad
    from babelstream.gateway.rooms.directory import RoomDirectory
    from babelstream.gateway.session import Session
    from babelstream.gateway.session_trail import SessionTrail


class Endpointer(Protocol):
    """Cuts one live stream into utterances (engines/vad: the C or the Python endpointer)."""

    def feed(self, pcm: bytes) -> list[Utterance]: ...

    def flush(self) -> list[Utterance]: ...

    def commit_tentative(self) -> bool:
        """End the open utterance where its tentative offer ended, if the speaker stayed quiet since."""

    @property
    def pause_ms(self) -> int:
        """How long the speaker has been quiet in the open utterance; 0 while speaking."""


class ResultSubscriptions(Protocol):
    """Where a session asks for its results (the gateway's ResultRouter): `session.on_result` is called for each."""

    def register(self, correlation_id: str, listener: Session) -> None: ...

    def unregister(self, correlation_id: str, listener: Session) -> None:
        """Only if `listener` is still the one registered: a resumed session may have taken the id since."""

    def listener(self, correlation_id: str) -> Session | None: ...

    async def adopt(self, correlation_id: str, listener: Session, reply_partition: int) -> None:
        """Read the results routed to `reply_partition` (another gateway's) for this session too (a resume)."""


class SessionObserver:
    """Hooks for tests and benches to watch sessions without patching them. The default does nothing.
    None is called per audio frame: a frame's cost is the gateway's capacity (docs/benchmarks/gateway-capacity.md)."""

    def session_started(self, session: Session) -> None:
        pass

    def segment_cut(self, session: Session, index: int) -> None:
        """An utterance was cut; its event is about to be published."""

    def result_routed(self, session: Session, event: Event) -> None:
        """A result event for this session arrived from the bus (before deduplication)."""

    def message_sent(self, session: Session, message: dict) -> None:
        """A message was written to the client's socket."""

    def session_ended(self, session: Session, ended: SessionEnded | None) -> None:
        """`ended` is None for a session that ended normally (done, results, summary) or whose client left."""


class SessionObservers(SessionObserver):
    """Several observers as one (the gateway's session log, and a test's or a bench's): each hook is passed on to
    every observer, in order."""

    def __init__(self, *observers: SessionObserver):
        self.observers = observers

    def session_started(self, session: Session) -> None:
        for observer in self.observers:
            observer.session_started(session)

    def segment_cut(self, session: Session, index: int) -> None:
        for observer in self.observers:
            observer.segment_cut(session, index)

    def result_routed(self, session: Session, event: Event) -> None:
        for observer in self.observers:
            observer.result_routed(session, event)

    def message_sent(self, session: Session, message: dict) -> None:
        for observer in self.observers:
            observer.message_sent(session, message)

    def session_ended(self, session: Session, ended: SessionEnded | None) -> None:
        for observer in self.observers:
            observer.session_ended(session, ended)


@dataclass(frozen=True)
class SessionContext:
    settings: GatewaySettings
    instance_id: str  # the gateway's: source of the events it publishes, and where results are sent back
    publish: Callable[[Event], Awaitable[None]]
    results: ResultSubscriptions
    options: SessionOptionsResolver
    new_endpointer: Callable[..., Endpointer]  # segmentation.endpointer_factory
    metrics: GatewayMetrics
    batch_slots: ConnectionSlots  # batch sessions, a pool of their own inside the gateway's
    observer: SessionObserver = SessionObserver()
    rooms: RoomDirectory | None = None  # None: this gateway serves no rooms (a test's bare session)
    load: PipelineLoad | None = None  # where end-of-utterance latencies are reported, for admission; speculation asks it
    # Resuming (docs/protocol.md "Resuming a session"): the tokens `connected` gives, and how a resumed session reads
    # its trail back from the bus (session_trail.read_session_trail). None: sessions cannot be resumed.
    resume_tokens: ResumeTokens | None = None
    read_trail: Callable[[str, float], Awaitable[SessionTrail]] | None = None
