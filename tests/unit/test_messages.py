"""messages.py's wire form: every message is valid JSON for any client."""

import json

import pytest

from babelstream.contracts.events import Event, SessionOptions, TextRecognizedPayload
from babelstream.gateway import messages


def test_a_confidence_the_model_could_not_give_is_null_not_nan():
    """Found by the connection fuzzer's neighbour: NaN reached the wire as `NaN`, which JSON.parse refuses."""
    payload = TextRecognizedPayload(text="hi", language="en", confidence=float("nan"), segment_index=0, start_ms=0,
                                    end_ms=10, options=SessionOptions())
    wire = messages.encode(messages.result(Event(payload=payload, correlation_id="c", source_service="s"), 1.0))
    assert json.loads(wire)["confidence"] is None


def test_encode_refuses_what_would_not_be_json():
    with pytest.raises(ValueError):
        messages.encode({"latency_ms": float("inf")})
