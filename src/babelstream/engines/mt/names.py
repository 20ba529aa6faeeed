"""People's names kept through translation: found in the source, put back where an engine changed them.

Engines change names two ways. Bergamot localises them ("Peter" comes out as "Pedro" in Portuguese, and so in
every path through it), and Apertium translates a name that is also a word ("la Marta" becomes "the Marten": a
marta is a marten). Placeholders don't survive a neural engine reliably, so the name is restored afterwards:
the source language's Apertium analyser says which words are people's names (never places, which have
exonyms: "London" is "Londres"), and a name missing from the output takes the place of the output word that
replaced it. That word is capitalised and not in the source; at the start of a sentence, where every word is
capitalised, only a word the target's analyser reads as a person's name qualifies; and it begins with the
name's first two letters, as a localised or mistranslated name does (Peter/Pedro, Marta/Marten, Michael/
Miguel) and a translated word rarely does (Catalan "la Lluna", a surname too, is "la Luna": left alone). When
the missing names and the words that could have replaced them do not pair up one to one, the output is left
as it is: a name lost is better than a word wrongly overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_WORD = re.compile(r"[^\W\d_][\w'-]*")
_SENTENCE_END = re.compile(r"[.!?¿¡:]\s*$")


def _present(word: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def _starts_sentence(text: str, index: int) -> bool:
    before = text[:index].rstrip("\"'«“( ")
    return not before or _SENTENCE_END.search(before) is not None


def restore_names(
    source_text: str,
    names: Collection[str],
    translated: str,
    people_in_target: Collection[str] = (),
    places_in_target: Collection[str] = (),
) -> str:
    """`names`: the people's names found in `source_text`. `people_in_target`/`places_in_target`: what the
    target language's analyser reads in `translated` (empty when it has none: then only words inside a
    sentence can be replaced)."""
    missing = [name for name in sorted(names, key=source_text.find) if not _present(name, translated)]
    if not missing:
        return translated
    source_words = set(_WORD.findall(source_text))
    replaced = []
    for match in _WORD.finditer(translated):
        word = match.group(0)
        if not word[:1].isupper() or word in source_words or word in places_in_target:
            continue
        if word in people_in_target or not _starts_sentence(translated, match.start()):
            replaced.append(match)
    if len(replaced) != len(missing) or any(
        match.group(0)[:2].lower() != name[:2].lower() for match, name in zip(replaced, missing)
    ):
        return translated
    for match, name in sorted(zip(replaced, missing), key=lambda pair: pair[0].start(), reverse=True):
        translated = translated[: match.start()] + name + translated[match.end() :]
    return translated
