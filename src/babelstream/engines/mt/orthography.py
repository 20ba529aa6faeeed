"""Writing conventions mended where one engine hands text to the next (or to the reader).

Engines translate words; some conventions fall between them. Apertium copies "1,200" through unchanged
into Spanish (where it reads as 1.2), drops a sentence's capital when the first word is unknown to it, and
writes Spanish questions without their opening "¿". Each mend here was measured on the reference set
(docs/benchmarks/translation-quality.md).
"""

from __future__ import annotations

import re

# How each language groups thousands and marks decimals. Anything else keeps the English convention.
_GROUPING = {"en": (",", "."), "es": (".", ","), "pt": (".", ","), "ca": (".", ","), "fr": (" ", ","),
             "it": (".", ","), "de": (".", ","), "nl": (".", ",")}
_NUMBER = {
    ",": re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w]|[.,]\d)|(?<![\w.,])\d+\.\d+(?![\w]|[.,]\d)"),
    ".": re.compile(r"(?<![\w.,])\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\w]|[.,]\d)|(?<![\w.,])\d+,\d+(?![\w]|[.,]\d)"),
    " ": re.compile(r"(?<![\w.,])\d{1,3}(?: \d{3})+(?:,\d+)?(?![\w]|[.,]\d)|(?<![\w.,])\d+,\d+(?![\w]|[.,]\d)"),
}
_PLAIN_NUMBER = re.compile(r"(?<![\w.,])\d+(?![\w]|[.,]\d)")
_CLOCK_TIME = re.compile(r"(?<![\w.,:])(\d{1,2}):(\d{2})(?![\w]|[.,:]\d)")
_SENTENCE = re.compile(r"[^.!?]*[.!?]+|[^.!?]+$")


def conventions(language: str) -> tuple[str, str]:
    """(thousands separator, decimal mark)."""
    return _GROUPING.get(language, _GROUPING["en"])


def numeric_values(text: str, language: str) -> list[float]:
    """Every number written in `language`'s convention, as a value: "45.000 y 2,5" in es -> [45000, 2.5]."""
    thousands, decimal = conventions(language)
    values = []
    for match in _NUMBER[thousands].finditer(text):
        values.append(float(match.group(0).replace(thousands, "").replace(decimal, ".")))
    stripped = _NUMBER[thousands].sub(" ", text)
    values.extend(float(match.group(0)) for match in _PLAIN_NUMBER.finditer(stripped))
    return sorted(values)


def _render(value_text: str, source: str, target: str) -> str:
    (source_thousands, source_decimal), (target_thousands, target_decimal) = conventions(source), conventions(target)
    whole, _, fraction = value_text.replace(source_thousands, "").partition(source_decimal)
    if source_thousands in value_text:
        groups = []
        while len(whole) > 3:
            whole, groups = whole[:-3], [whole[-3:], *groups]
        whole = target_thousands.join([whole, *groups])
    return whole + (target_decimal + fraction if fraction else "")


def localize_numbers(source_text: str, translated: str, source: str, target: str) -> str:
    """Numbers the engine copied through in the source's convention, rewritten in the target's.

    Only literals that occur in the source text are touched, so a number the engine already localised
    (Bergamot turns "45,000" into "45.000") is never read the wrong way round."""
    if conventions(source) == conventions(target):
        return translated
    for literal in sorted({m.group(0) for m in _NUMBER[conventions(source)[0]].finditer(source_text)}, key=len, reverse=True):
        rendered = _render(literal, source, target)
        translated = re.sub(rf"(?<![\w.,]){re.escape(literal)}(?![\w]|[.,]\d)", rendered, translated)
    return translated


def keep_clock_times(source_text: str, translated: str) -> str:
    """"7:45" stays "7:45": Apertium's Catalan writes it "7.45", which reads as a different number."""
    for hours, minutes in set(_CLOCK_TIME.findall(source_text)):
        if f"{hours}:{minutes}" not in translated:
            translated = re.sub(rf"(?<![\w.,]){hours}[.,]{minutes}(?![\w]|[.,]\d)", f"{hours}:{minutes}", translated)
    return translated


def restore_initial_case(source_text: str, translated: str) -> str:
    """A sentence that began with a capital still does: Apertium lower-cases it after an unknown first word."""
    first_source = next((c for c in source_text if c.isalpha()), "")
    for index, character in enumerate(translated):
        if character.isalpha():
            if first_source.isupper() and character.islower():
                return translated[:index] + character.upper() + translated[index + 1 :]
            return translated
    return translated


def spanish_opening_marks(text: str) -> str:
    """"¿Dónde está?" rather than "Dónde está?": each question or exclamation gets its opening mark."""
    sentences = []
    for sentence in _SENTENCE.findall(text):
        stripped = sentence.lstrip()
        lead = sentence[: len(sentence) - len(stripped)]
        end = stripped.rstrip()[-1:] if stripped.strip() else ""
        opening = {"?": "¿", "!": "¡"}.get(end)
        if opening and opening not in stripped and stripped[:1] not in "¿¡\"«":
            stripped = opening + stripped
        sentences.append(lead + stripped)
    return "".join(sentences)


def mend(source_text: str, translated: str, source: str, target: str) -> str:
    """Everything above, for one engine's output: what one hop hands to the next, or to the reader."""
    translated = localize_numbers(source_text, translated, source, target)
    translated = keep_clock_times(source_text, translated)
    translated = restore_initial_case(source_text, translated)
    if target == "es":
        translated = spanish_opening_marks(translated)
    return translated
