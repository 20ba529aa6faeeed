"""The probe's report: a table for a person (`format_report`) and every figure and utterance as JSON."""

from __future__ import annotations

from dataclasses import asdict

from babelstream.clients.probe.figures import QUANTILES
from babelstream.clients.probe.speakers import ProbeRun


def _row(label: str, figures: dict | None, quantiles=QUANTILES) -> str:
    if not figures or not figures.get("n"):
        return f"  {label:<46}" + "".join(f"{'-':>10}" for _ in quantiles) + f"{0:>7}"
    return f"  {label:<46}" + "".join(f"{figures[f'p{q}']:>10.1f}" for q in quantiles) + f"{figures['n']:>7}"


def format_report(run: ProbeRun, figures: dict, quantiles=QUANTILES) -> str:
    config = run.config
    target = config.targets[0] if config.targets else "-"
    heading = "".join(f"{'P' + str(q):>10}" for q in quantiles) + f"{'N':>7}"
    speech = figures["speech_ms"]
    lines = [
        f"probe: {figures['utterances']} utterance(s) from {config.concurrency} speaker(s) in {figures['sessions']} "
        f"session(s) (several utterances per session), {run.seconds:.0f} s, {config.url}",
        f"  speech {speech.get('p50') or 0:.0f} ms median (espeak-ng en-us), {config.pause_ms} ms pause after each; "
        f"targets {','.join(config.targets)}, speech synthesis {'on' if config.synthesize else 'off'}",
        "",
        "end of utterance (the gateway's cut at the pause) -> at the client, ms" + heading,
        _row("transcript", figures["end_to_end_ms"]["transcript"], quantiles),
        _row(f"translated text ({target})", figures["end_to_end_ms"]["translation"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row(f"spoken audio ({target})", figures["end_to_end_ms"]["audio"], quantiles))
    stages = figures["stage_ms"]
    lines += [
        "",
        "per stage (stage_ms of the results), ms" + " " * 24 + heading,
        _row("segment/ingress (cut frame sent -> segment msg)", stages["ingress"], quantiles),
        _row("ASR", stages["asr"], quantiles),
        _row("MT", stages["translate"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row("TTS", stages["tts"], quantiles))
    lines += [
        _row("bus, between stages (to text)", stages["bus_to_text"], quantiles),
    ]
    if config.synthesize:
        lines.append(_row("bus, between stages (to audio)", stages["bus_to_audio"], quantiles))
    lines += [
        _row("untraced (text e2e - ASR - MT - bus)", stages["untraced"], quantiles),
        _row("overhead beyond models (text e2e - ASR - MT)", figures["overhead_beyond_models_ms"], quantiles),
        _row("server latency_ms, translated text", figures["server_latency_ms"]["translation"], quantiles),
    ]
    shares = figures["translation_share_pct"]
    if shares:
        lines.append("  share of translated-text latency: " + ", ".join(f"{k} {v:.1f}%" for k, v in shares.items()))
    rtf = figures["asr_rtf"]["segment"]
    if rtf.get("n"):
        lines.append(f"  ASR real-time factor (ASR ms / segment audio ms): P50 {rtf['p50']:.3f}, P90 {rtf['p90']:.3f}")
    if figures.get("translation_per_minute_ms"):
        lines.append("  translated text per minute: " + ", ".join(
            f"min {m}: P95 {f['p95']:.0f} ms (n={f['n']})" for m, f in figures["translation_per_minute_ms"].items() if f["n"]
        ))
    lines += [
        "",
        f"broken correlation chains: {figures['broken_chains']} of {figures['utterances']}"
        + (f"; extra segments (cut where nothing was said): {figures['extra_segments']}" if figures["extra_segments"] else ""),
    ]
    for reason in figures["broken_reasons"][:5]:
        lines.append(f"  - {reason}")
    return "\n".join(lines)


def run_to_json(run: ProbeRun, figures: dict) -> dict:
    return {
        "config": asdict(run.config),
        "started_at_unix": run.started_wall,
        "figures": figures,
        "sessions": [
            {"speaker": s.speaker, "session": s.session, "correlation_id": s.correlation_id, "close_code": s.close_code, "error": s.error, "summary": s.summary,
             "extra_segments": s.extra_segments}
            for s in run.sessions
        ],
        "utterances": [asdict(u) for u in run.utterances],
    }
