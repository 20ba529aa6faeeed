"""`babelstream stream` with interim results: one changing line for the sentence being spoken, gone when its
transcript comes; --no-partials asks for none."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from babelstream.client.messages import from_dict
from babelstream.clients.captions import LiveView, StreamState
from babelstream.clients.stream import start_for


def partial(stable: str, unstable: str, start_ms: int = 1000) -> dict:
    return {"type": "partial", "segment_index": 0, "stable_text": stable, "unstable_text": unstable,
            "language": "en", "start_ms": start_ms, "audio_ms": start_ms + 1500}


def test_the_newest_partial_is_one_line_until_its_transcript_replaces_it(tmp_path):
    state = StreamState(tmp_path)
    state.apply(from_dict({"type": "ready", "source_language": "en", "target_languages": ["es"]}))
    assert state.apply(from_dict(partial("", "This is"))) == []  # nothing for a log: it gets the transcript
    state.apply(from_dict(partial("This is", " Diane in")))
    console = Console(file=io.StringIO(), width=100, height=30, force_terminal=False)
    shown = io.StringIO()
    Console(file=shown, width=100).print(LiveView(state, console)._table())
    assert "This is Diane in" in shown.getvalue() and shown.getvalue().count("This is") == 1
    state.apply(from_dict({"type": "transcript", "segment_index": 0, "text": "This is Diane in New Jersey.",
                           "language": "en", "start_ms": 1000, "end_ms": 3000, "latency_ms": 40.0}))
    assert state.partial is None and state.rows[0].source == "This is Diane in New Jersey."


def test_a_partial_of_the_next_sentence_stays_when_an_earlier_transcript_comes(tmp_path):
    state = StreamState(tmp_path)
    state.apply(from_dict(partial("Next", " one", start_ms=5000)))
    state.apply(from_dict({"type": "transcript", "segment_index": 0, "text": "Before.", "start_ms": 1000,
                           "end_ms": 3000, "latency_ms": 40.0}))
    assert state.partial is not None and state.partial.text == "Next one"


def test_no_partials_flag_turns_them_off_in_the_start_message():
    args = SimpleNamespace(language="en", to="es", fast=False, no_speech=True, no_partials=True)
    assert start_for(args).message()["partials"] is False
    assert "partials" not in start_for(SimpleNamespace(language="en", to="es")).message()
