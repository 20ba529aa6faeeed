"""A session's options: the operator's defaults, what the start message asks for, and what the pipeline can do."""

from __future__ import annotations

from typing import Protocol

from babelstream.contracts.events import SessionOptions
from babelstream.gateway import messages
from babelstream.gateway.close_codes import CloseCode
from babelstream.gateway.errors import Kind, SessionEnded
from babelstream.gateway.requests import AUTO, StartRequest
from babelstream.gateway.settings import GatewaySettings


class Capabilities(Protocol):
    """What the pipeline behind this gateway can do; None from a method means "unknown, don't check"."""

    def source_languages(self) -> frozenset[str] | None: ...

    def pairs(self) -> frozenset[tuple[str, str]] | None: ...

    def speech_languages(self) -> frozenset[str] | None: ...


class SessionOptionsResolver:
    def __init__(self, settings: GatewaySettings, reply_to: str, capabilities: Capabilities | None = None):
        self._settings = settings
        self._reply_to = reply_to
        self.capabilities = capabilities

    def defaults(self) -> SessionOptions:
        return SessionOptions(
            source_language=None if self._settings.default_source_language in ("", AUTO) else self._settings.default_source_language,
            target_languages=self._settings.default_target_languages,
            synthesize=True,
            reply_to=self._reply_to,
        )

    def check_listener_language(self, language: str) -> None:
        """A room listener's language must be one something here can give: a translation target of some pair, or a
        language speech is recognised in (the captions of a speaker who speaks it). Raises unsupported_language."""
        capabilities = self.capabilities
        if capabilities is None:
            return
        pairs, sources = capabilities.pairs(), capabilities.source_languages()
        if pairs is None or sources is None:
            return
        readable = {target for _, target in pairs} | set(sources)
        if language not in readable:
            raise SessionEnded(
                CloseCode.UNSUPPORTED_DATA,
                f"nothing here translates into {language!r}; a room can be read in: {sorted(readable)}",
                kind=Kind.UNSUPPORTED_LANGUAGE,
            )

    def resolve(self, request: StartRequest) -> tuple[SessionOptions, list[dict]]:
        """The session's options, and warnings for targets nobody can translate (those targets are dropped)."""
        defaults = self.defaults()
        if request.source_language == AUTO:
            source = None  # detected per utterance: nothing to check against the pairs until then
        elif request.source_language is None:
            source = defaults.source_language
        else:
            source = request.source_language
        if request.target_languages is not None:
            targets = request.target_languages
        elif request.room is not None:
            targets = ()  # in a room, its listeners' languages are the targets; the speaker may name more
        else:
            targets = defaults.target_languages
        warnings: list[dict] = []
        capabilities = self.capabilities
        if capabilities is not None and source is not None:
            sources = capabilities.source_languages()
            if sources is not None and source not in sources:
                raise SessionEnded(
                    CloseCode.UNSUPPORTED_DATA,
                    f"speech in {source!r} cannot be recognised here; available: {sorted(sources)}",
                    kind=Kind.UNSUPPORTED_LANGUAGE,
                )
            pairs = capabilities.pairs()
            if pairs is not None:
                kept = []
                for target in targets:
                    if target == source or (source, target) in pairs:
                        kept.append(target)
                        continue
                    available = sorted(f"{s}-{t}" for s, t in pairs if s == source)
                    warnings.append(
                        messages.warning(
                            Kind.UNSUPPORTED_PAIR,
                            f"no engine translates {source}->{target}; from {source} available: {available}",
                            source_language=source,
                            target_language=target,
                            available=available,
                        )
                    )
                targets = tuple(kept)
        options = SessionOptions(
            source_language=source,
            target_languages=tuple(targets),
            synthesize=request.synthesize,
            reply_to=self._reply_to,
            room=request.room,
        )
        return options, warnings
