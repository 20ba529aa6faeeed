"""The gateway's side of interim results: which partials reach the client, when a final is `revised`, when a
transcript may end an utterance early, and the start message's fields."""

from __future__ import annotations

import pytest

from babelstream.contracts.events import PartialTranscriptPayload, SessionOptions, TextRecognizedPayload
from babelstream.gateway.errors import SessionEnded
from babelstream.gateway.partials import PartialResults
from babelstream.gateway.requests import parse_text_message
from babelstream.gateway.speculation import ends_sentence

OPTIONS = SessionOptions("en", ("es",))


def partial(stable: str, start_ms: int = 1000, unstable: str = "") -> PartialTranscriptPayload:
    return PartialTranscriptPayload(
        stable_text=stable, unstable_text=unstable, segment_index=0, start_ms=start_ms, end_ms=start_ms + 900,
        options=OPTIONS,
    )


def final(text: str, start_ms: int = 1000) -> TextRecognizedPayload:
    return TextRecognizedPayload(
        text=text, language="en", confidence=0.9, segment_index=0, start_ms=start_ms, end_ms=start_ms + 2000,
        options=OPTIONS,
    )


def test_stable_text_reaching_the_client_only_grows():
    results = PartialResults()
    assert results.accept(partial("", unstable="This"))
    assert results.accept(partial("This is"))
    assert not results.accept(partial("This"))  # late, or from a worker that lost its state
    assert not results.accept(partial("That is Diane"))
    assert results.accept(partial("This is Diane"))
    assert results.accept(partial("This is Diane", unstable=" in"))


def test_no_partial_after_its_utterance_is_final():
    results = PartialResults()
    results.accept(partial("This is"))
    assert not results.finished(final("This is Diane."))
    assert not results.accept(partial("This is Diane"))
    assert results.accept(partial("Next", start_ms=5000))


def test_a_final_that_disagrees_with_the_stable_text_is_revised_and_counted():
    results = PartialResults()
    results.accept(partial("The quick round"))
    assert results.finished(final("The quick brown fox."))
    assert results.revised == 1
    assert not results.finished(final("No partials were sent for this one.", start_ms=9000))


def test_a_sentence_ends_on_terminal_punctuation_after_a_word_that_can_end_one():
    assert ends_sentence("The house is big.", "en")
    assert ends_sentence("Is it big?", "en")
    assert not ends_sentence("I went to the.", "en")
    assert not ends_sentence("The house is", "en")
    assert not ends_sentence("The house is...", "en")
    assert not ends_sentence("La casa es grande.", "es")  # the word list is English: other languages wait


def test_the_start_message_turns_partials_off_or_on():
    assert parse_text_message('{"event":"start"}').partials is None
    assert parse_text_message('{"event":"start","partials":false}').partials is False
    assert parse_text_message('{"event":"start","partials":true,"translate_partials":true}').translate_partials
    with pytest.raises(SessionEnded, match="partials must be true or false"):
        parse_text_message('{"event":"start","partials":"yes"}')
