"""LocalAgreement-2: stable words are those two consecutive decodes agree on, and they are never taken back."""

from __future__ import annotations

from babelstream.engines.asr.local_agreement import LocalAgreement, agrees_with


def test_a_word_is_stable_once_two_consecutive_decodes_agree_on_it_and_all_before_it():
    agreement = LocalAgreement()
    first = agreement.update("This is")
    assert (first.stable, first.unstable, first.grew) == ("", " This is", False)
    second = agreement.update("This is Diane in")
    assert (second.stable, second.unstable, second.grew) == ("This is", " Diane in", True)
    third = agreement.update("This is Diane, in New Jersey")
    assert (third.stable, third.unstable) == ("This is Diane, in", " New Jersey")


def test_case_and_punctuation_do_not_break_agreement():
    agreement = LocalAgreement()
    agreement.update("hello, world.")
    assert agreement.update("Hello world and more").stable == "Hello world"


def test_stable_text_never_shrinks_when_a_later_decode_disagrees():
    agreement = LocalAgreement()
    agreement.update("The quick brown fox")
    agreement.update("The quick brown fox jumps")
    changed = agreement.update("A quick round box jumps over")
    assert changed.stable == "The quick brown fox" and changed.unstable == " jumps over"
    # Two decodes that agree with each other but not with the stable words: those stay as they were, and the words
    # past them become stable in their places.
    again = agreement.update("A quick round box jumps over the")
    assert again.stable == "The quick brown fox jumps over" and again.grew


def test_stable_text_only_grows_over_many_decodes():
    decodes = ["the", "the cat", "the cat sat", "the cat sat on", "a cat sat on the", "the cat sat on the mat.",
               "the cat sat on the mat. It"]
    agreement = LocalAgreement()
    seen = ""
    for text in decodes:
        stable = agreement.update(text).stable
        assert stable.startswith(seen)
        seen = stable
    assert seen == "the cat sat on the mat."


def test_empty_decodes_change_nothing():
    agreement = LocalAgreement()
    agreement.update("one two")
    agreement.update("one two three")
    assert agreement.update("").stable == "one two"


def test_a_final_agrees_when_it_begins_with_the_stable_words():
    assert agrees_with("This is Diane, in New Jersey.", "This is Diane in")
    assert agrees_with("anything", "")
    assert not agrees_with("This was Diane in New Jersey.", "This is Diane in")
    assert not agrees_with("This is", "This is Diane")


def test_dropping_stable_words_keeps_comparing_from_the_word_after():
    agreement = LocalAgreement()
    agreement.update("one two three four")
    agreement.update("one two three four five")
    assert agreement.drop_front(2) == "one two"
    # Decodes of the audio after "two" now start at "three".
    grown = agreement.update("three four five six")
    assert grown.stable == "three four five" and grown.unstable == " six"
