"""The probe's figures: percentiles of every latency it measured, as plain data (`summarize`)."""

from __future__ import annotations

import numpy as np

from babelstream.clients.probe.speakers import ProbeRun
from babelstream.clients.probe.trace import UtteranceRecord

QUANTILES = (50, 90, 99)


def percentiles(values, quantiles=QUANTILES, digits: int = 2) -> dict:
    values = [v for v in values if v is not None]
    figures: dict = {"n": len(values)}
    for q in quantiles:
        figures[f"p{q}"] = round(float(np.percentile(values, q)), digits) if values else None
    return figures


def _first(mapping: dict, key: str):
    return mapping.get(key) if mapping else None


def summarize(run: ProbeRun, quantiles=QUANTILES) -> dict:
    """Every figure the probe reports, as plain data."""
    config = run.config
    target = config.targets[0] if config.targets else None
    done = [u for u in run.utterances if not u.broken]
    every = run.utterances
    pct = lambda values: percentiles(values, quantiles)  # noqa: E731

    def stage(u: UtteranceRecord, name: str, source: str = "text"):
        stages = u.text_stage_ms if source == "text" else u.audio_stage_ms
        return stages.get(name) if stages else None

    text_ms = [u.translation_ms.get(target) for u in done]
    model_ms = [
        (u.translation_ms[target] - u.text_stage_ms.get("asr", 0.0) - u.text_stage_ms.get("translate", 0.0))
        for u in done
        if target in u.translation_ms and u.text_stage_ms
    ]
    traced = [
        u.translation_ms[target] - sum(v for k, v in u.text_stage_ms.items())
        for u in done
        if target in u.translation_ms and u.text_stage_ms
    ]
    shares = {}
    total = sum(u.translation_ms[target] for u in done if target in u.translation_ms and u.text_stage_ms)
    if total > 0:
        for name in ("asr", "translate", "bus"):
            shares[name] = round(100 * sum(stage(u, name) or 0.0 for u in done if target in u.translation_ms) / total, 1)
        shares["untraced"] = round(100 - sum(shares.values()), 1)
    rtf = [u.text_stage_ms["asr"] / u.segment_audio_ms for u in done if u.text_stage_ms.get("asr") and u.segment_audio_ms]
    speech_rtf = [u.text_stage_ms["asr"] / u.speech_ms for u in done if u.text_stage_ms.get("asr") and u.speech_ms]
    figures = {
        "utterances": len(every),
        "broken_chains": sum(1 for u in every if u.broken),
        "broken_reasons": sorted({u.broken for u in every if u.broken})[:20],
        "extra_segments": sum(s.extra_segments for s in run.sessions),
        "sessions": len(run.sessions),
        "seconds": round(run.seconds, 1),
        "speech_ms": pct([u.speech_ms for u in every]),
        "end_to_end_ms": {
            "transcript": pct([u.transcript_ms for u in done]),
            "translation": pct(text_ms),
            "audio": pct([u.audio_ms.get(target) for u in done]) if config.synthesize else None,
        },
        "server_latency_ms": {
            "transcript": pct([_first(u.server_ms, "transcript") for u in done]),
            "translation": pct([_first(u.server_ms, f"translation:{target}") for u in done]),
        },
        "stage_ms": {
            "ingress": pct([u.ingress_ms for u in done]),
            "asr": pct([stage(u, "asr") for u in done]),
            "translate": pct([stage(u, "translate") for u in done]),
            "tts": pct([stage(u, "tts", "audio") for u in done]) if config.synthesize else None,
            "bus_to_text": pct([stage(u, "bus") for u in done]),
            "bus_to_audio": pct([stage(u, "bus", "audio") for u in done]) if config.synthesize else None,
            "untraced": pct(traced),
        },
        "translation_share_pct": shares,
        "overhead_beyond_models_ms": pct(model_ms),
        "asr_rtf": {"segment": percentiles(rtf, quantiles, 4), "speech": percentiles(speech_rtf, quantiles, 4)},
    }
    by_length = {}
    for low, high in ((0, 1500), (1500, 2500), (2500, 3500)):
        bucket = [u.translation_ms.get(target) for u in done if low <= u.speech_ms < high]
        by_length[f"{low / 1000:g}-{high / 1000:g} s"] = pct(bucket)
    figures["translation_by_speech_length_ms"] = by_length
    if config.duration_seconds:
        minutes: dict[int, list[float]] = {}
        for u in done:
            if u.at_s is not None and target in u.translation_ms:
                minutes.setdefault(int(u.at_s // 60), []).append(u.translation_ms[target])
        figures["translation_per_minute_ms"] = {
            str(minute + 1): percentiles(values, (50, 95, 99)) for minute, values in sorted(minutes.items())
        }
    return figures
