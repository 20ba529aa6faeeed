"""Fuzzes what a client may send as text (gateway/requests.py: parse_text_message): start messages and done.

Each case is a JSON object built from the start message's fields (and unknown ones) with values of every JSON
type, including the near misses (16000.0, "EN", "en,,es", nine targets, true for a number), or that text with
characters changed, or text that is not JSON at all (noise, deep nesting, huge numbers). What must hold: a
`StartRequest` or `DoneRequest` whose fields have the types and values docs/protocol.md promises (checked here,
independently), or `SessionEnded` with kind `malformed` and close code 1003 whose error message can be sent
(messages.py encodes it to UTF-8); nothing else.

    .venv/bin/python bench/fuzz_start_message.py [--cases 1000000] [--seconds S] [--seed 0]
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from babelstream.gateway import messages  # noqa: E402
from babelstream.gateway.errors import Kind, SessionEnded  # noqa: E402
from babelstream.gateway.requests import (  # noqa: E402
    ACCEPTED_SAMPLE_RATES_HZ,
    AUTO,
    MAX_TARGET_LANGUAGES,
    MODES,
    DoneRequest,
    StartRequest,
    parse_text_message,
)
from bench.fuzzing import Broken, main, smaller_sequences  # noqa: E402

_CODE = re.compile(r"[a-z]{2,3}")
FIELDS = ("event", "mode", "sample_rate_hz", "language", "language_hint", "targets", "synthesize", "wait_for_results")
_LANGUAGES = ("en", "es", "EN", "pt", "auto", "AUTO", "", " en", "e", "engl", "zh-CN", "dé", "ca", "\u0130n")


def random_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if roll < 0.12:
        return rng.choice((None, True, False))
    if roll < 0.3:
        return rng.choice((16000, 16000.0, 48000, 44100.5, 0, -1, 2**64, 1e308, 8000, 11025, "16000"))
    if roll < 0.55:
        return rng.choice(_LANGUAGES + MODES + ("start", "done", "en,es", "en,,ES", ",", "\ud800", "x" * 300))
    if roll < 0.8 and depth < 3:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 11))]
    if depth < 3:
        return {rng.choice(FIELDS + ("x",)): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))}
    return rng.choice(_LANGUAGES)


def start_message(rng: random.Random) -> dict:
    message = {"event": rng.choice(("start", "start", "start", "done", "Start", None))}
    for name in FIELDS[1:]:
        if rng.random() < 0.4:
            message[name] = random_value(rng)
    if rng.random() < 0.3:
        message["targets"] = [rng.choice(_LANGUAGES) for _ in range(rng.randrange(0, 10))]
    if rng.random() < 0.3:
        message["sample_rate_hz"] = rng.choice(ACCEPTED_SAMPLE_RATES_HZ) * rng.choice((1, 1, 1.0))
    if rng.random() < 0.05:
        message[rng.choice(("id", "Event", "mode "))] = 1
    if rng.random() < 0.05:
        del message["event"]
    return message


def text_case(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        return json.dumps(start_message(rng), ensure_ascii=rng.random() < 0.5)
    if roll < 0.9:
        text = json.dumps(start_message(rng))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(('"', "{", "}", ",", ":", "\\", "\\u", " ", "1", "\x00", "é")) + text[at + rng.randrange(2):]
        return text
    if roll < 0.95:
        return rng.choice(("", "null", "[]", "1", '"start"', "{}", '{"event":"done"}', "NaN", "1" * 5_000,
                           '{"event":"start","sample_rate_hz":' + "9" * 5_000 + "}"))
    if roll < 0.99:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(40)))
    depth = rng.randrange(10, 40_000)  # a text frame holds 65,536 bytes: nesting that deep fits in one
    return rng.choice(("[" * depth, '{"event":"start","targets":' + "[" * depth + "]" * depth + "}"))


def check_request(request: StartRequest | DoneRequest) -> None:
    if isinstance(request, DoneRequest):
        return
    if not isinstance(request, StartRequest):
        raise Broken("neither a start nor a done request", repr(request))
    if request.mode is not None and request.mode not in MODES:
        raise Broken("start request with an unknown mode", repr(request.mode))
    if type(request.sample_rate_hz) is not int or request.sample_rate_hz not in ACCEPTED_SAMPLE_RATES_HZ:
        raise Broken("start request's sample rate is not one of the accepted integers", repr(request.sample_rate_hz))
    if request.source_language not in (None, AUTO) and not (
            isinstance(request.source_language, str) and _CODE.fullmatch(request.source_language)):
        raise Broken("start request's language is not a code", repr(request.source_language))
    targets = request.target_languages
    if targets is not None and (
            not isinstance(targets, tuple) or len(targets) > MAX_TARGET_LANGUAGES or len(set(targets)) != len(targets)
            or not all(isinstance(t, str) and _CODE.fullmatch(t) for t in targets)):
        raise Broken("start request's targets are not distinct codes", repr(targets))
    if type(request.synthesize) is not bool or type(request.wait_for_results) is not bool:
        raise Broken("start request's flags are not booleans", repr(request))


def check_refusal(ended: SessionEnded) -> None:
    if ended.kind is not Kind.MALFORMED or ended.code != 1003:
        raise Broken("refused with another kind or code than malformed, 1003", f"{ended.kind} {ended.code}")
    messages.encode(messages.error(ended)).encode("utf-8")  # what the session sends: must be sendable


class StartMessageTarget:
    name = "start message"
    bound = "the process's peak RSS (texts are under 300 KB)"

    def generate(self, rng: random.Random) -> str:
        return text_case(rng)

    def check(self, text: str) -> None:
        try:
            request = parse_text_message(text)
        except SessionEnded as ended:
            check_refusal(ended)
            return
        check_request(request)

    def shrink(self, text: str):
        yield from smaller_sequences(text)

    def show(self, text: str) -> str:
        if len(text) > 1 and len(set(text)) == 1:
            return f"text={text[0]!r} * {len(text)}"
        return f"text={text!r}" if len(text) < 400 else f"text={text[:200]!r} + ... ({len(text)} characters)"


if __name__ == "__main__":
    main(StartMessageTarget, __doc__.splitlines()[0])
