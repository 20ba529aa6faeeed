"""What `babelstream stream` shows: one caption row per segment, filled in as its results arrive, and below them
one line that keeps changing: the sentence still being spoken (its newest partial, the unstable words dim).

`StreamState` turns the server's messages into rows (and writes the spoken translations to files); a view
shows them: `LiveView`, a rich table redrawn on a terminal, or `PlainView`, one line per message for pipes
and log files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from babelstream.client.messages import (
    Ack,
    Audio,
    Connected,
    ErrorMessage,
    Partial,
    Ready,
    Resumed,
    Segment,
    ServerMessage,
    Summary,
    Transcript,
    Translation,
    WarningMessage,
)


def audio_path(out_dir: str | Path, segment_index: int, language: str) -> Path:
    return Path(out_dir) / f"{segment_index}-{language}.wav"


def format_span(start_ms: int, end_ms: int) -> str:
    def clock(ms: int) -> str:
        minutes, rest = divmod(max(0, ms), 60_000)
        return f"{minutes}:{rest / 1000:04.1f}"

    return f"{clock(start_ms)}–{clock(end_ms)}"


@dataclass
class CaptionRow:
    segment_index: int
    start_ms: int
    end_ms: int
    source: str = ""
    translations: dict[str, str] = field(default_factory=dict)
    text_latency_ms: float | None = None
    audio_latency_ms: float | None = None
    audio_files: dict[str, Path] = field(default_factory=dict)

    def latency(self) -> str:
        if self.text_latency_ms is None:
            return ""
        text = f"{self.text_latency_ms:.0f} ms"
        return text + (f" · audio {self.audio_latency_ms:.0f}" if self.audio_latency_ms is not None else "")


@dataclass
class StreamState:
    out_dir: Path
    source_language: str = ""
    targets: list[str] = field(default_factory=list)
    rows: dict[int, CaptionRow] = field(default_factory=dict)
    error_reason: str | None = None
    summary: Summary | None = None
    ack: Ack | None = None
    partial: Partial | None = None  # the sentence still being spoken, until its transcript comes

    def row(self, message: Segment | Transcript | Translation | Audio) -> CaptionRow:
        index = message.segment_index
        if index not in self.rows:
            self.rows[index] = CaptionRow(index, message.start_ms, message.end_ms)
        return self.rows[index]

    def apply(self, message: ServerMessage) -> list[str]:
        """Updates the captions; returns the plain lines that describe this message (for non-terminals)."""
        if isinstance(message, Connected):
            return [f"connected: session {message.correlation_id}"]
        if isinstance(message, Ready):
            self.source_language = message.source_language or "auto"
            self.targets = list(message.target_languages)
            speech = "with speech" if message.synthesize else "text only"
            return [f"streaming {self.source_language} -> {', '.join(self.targets) or '(no targets)'} ({speech})"]
        if isinstance(message, Segment):
            row = self.row(message)
            row.start_ms, row.end_ms = message.start_ms, message.end_ms
            return []
        if getattr(message, "speaker", ""):
            return self._theirs(message)
        if isinstance(message, Partial):
            self.partial = message
            return []  # a log gets the transcript; the live view shows partials on their one line
        if isinstance(message, Transcript):
            if self.partial is not None and self.partial.start_ms == message.start_ms:
                self.partial = None
            row = self.row(message)
            row.source = message.text
            span = format_span(row.start_ms, row.end_ms)
            return [f"[{span}] #{row.segment_index} {message.language}: {row.source}  ({message.latency_ms:.0f} ms)"]
        if isinstance(message, Translation):
            row = self.row(message)
            language = message.target_language
            row.translations[language] = message.text
            row.text_latency_ms = max(row.text_latency_ms or 0.0, float(message.latency_ms))
            if language not in self.targets:
                self.targets.append(language)
            return [f"    #{row.segment_index} {language}: {message.text}  ({message.latency_ms:.0f} ms)"]
        if isinstance(message, Audio):
            row = self.row(message)
            path = audio_path(self.out_dir, row.segment_index, message.language)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(message.wav)
            row.audio_files[message.language] = path
            row.audio_latency_ms = max(row.audio_latency_ms or 0.0, float(message.latency_ms))
            return [f"    #{row.segment_index} {message.language} audio -> {path}  ({message.latency_ms:.0f} ms)"]
        if isinstance(message, WarningMessage):
            return [f"warning: {message.reason or message.data}"]
        if isinstance(message, ErrorMessage):
            self.error_reason = message.reason or f"error {message.code}"
            return [f"error {message.code}: {self.error_reason}"]
        if isinstance(message, Ack):
            self.ack = message
            return [f"sent: {message.segments} segment(s), {message.received_bytes} bytes; waiting for results"]
        if isinstance(message, Summary):
            self.summary = message
        if isinstance(message, Resumed):
            return [f"resumed: session {message.correlation_id} goes on at segment #{message.next_segment} "
                    f"({message.replayed} result(s) read back)"]
        return []

    def _theirs(self, message: ServerMessage) -> list[str]:
        """Another speaker's result in this session's room (conversation mode): a line of its own, never one of
        this session's rows (its segment numbers are its own); its interim results are not shown here."""
        who = f"[{message.speaker[:8]}]"
        if isinstance(message, Transcript):
            return [f"{who} {message.language}: {message.text}"]
        if isinstance(message, Translation):
            return [f"{who}     {message.target_language}: {message.text}"]
        return []

    def summary_line(self) -> str:
        s = self.summary or Summary()
        line = (
            f"summary: {s.segments} segment(s), {s.transcripts} transcript(s), {s.translations} translation(s), "
            f"{s.audio} audio, {s.warnings} warning(s): {'complete' if s.complete else 'INCOMPLETE'}"
        )
        if s.missing_segments:
            line += f"; missing segments {list(s.missing_segments)}"
        files = sum(len(r.audio_files) for r in self.rows.values())
        if files:
            line += f"; {files} spoken translation(s) in {self.out_dir}/"
        return line


class PlainView:
    """One line per event, flushed: for pipes and log files."""

    def __init__(self, state: StreamState, out=None):
        self.state = state
        self.out = out or sys.stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def show(self, message: ServerMessage, lines: list[str]) -> None:
        for line in lines:
            stream = sys.stderr if line.startswith(("warning:", "error ")) else self.out
            print(line, file=stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class LiveView:
    """A rich Live table, one row per segment, redrawn as results arrive."""

    def __init__(self, state: StreamState, console):
        from rich.live import Live

        self.state = state
        self.console = console
        self.live = Live(self._table(), console=console, refresh_per_second=10, transient=True)

    def _table(self, limit: int | None = None):
        from rich.table import Table

        table = Table(expand=True, show_lines=False, title=None)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("time", no_wrap=True)
        table.add_column(self.state.source_language or "source", ratio=2)
        for target in self.state.targets:
            table.add_column(target, ratio=2)
        table.add_column("latency", justify="right", no_wrap=True)
        rows = [self.state.rows[i] for i in sorted(self.state.rows)]
        if limit is not None:
            rows = rows[-limit:]
        for row in rows:
            table.add_row(
                str(row.segment_index),
                format_span(row.start_ms, row.end_ms),
                row.source or "…",
                *(row.translations.get(target, "") for target in self.state.targets),
                row.latency(),
            )
        partial = self.state.partial
        if partial is not None:
            from rich.text import Text

            line = Text(partial.stable_text)
            line.append(partial.unstable_text, style="dim")
            table.add_row(
                "…", format_span(partial.start_ms, partial.audio_ms), line, *("" for _ in self.state.targets), ""
            )
        return table

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)
        if self.state.rows:
            self.console.print(self._table())  # the whole table stays on screen

    def show(self, message: ServerMessage, lines: list[str]) -> None:
        if isinstance(message, (WarningMessage, ErrorMessage, Ready)):
            style = {WarningMessage: "yellow", ErrorMessage: "red"}.get(type(message))
            for line in lines:
                self.console.print(line, style=style)
        self.live.update(self._table(limit=max(3, self.console.height - 8)))

    def note(self, text: str) -> None:
        self.console.print(text)
