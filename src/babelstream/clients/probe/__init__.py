"""`babelstream probe`: inject N spoken utterances into a gateway and measure where the time goes.

Each speaker streams English sentences spoken by espeak-ng in real time (20 ms frames on an absolute
schedule, as a microphone delivers them), every one followed by 700 ms of silence so the gateway's
endpointer cuts it, several utterances per WebSocket session; `--concurrency K` runs K speakers at once.
Each utterance is followed through its correlation chain (segment, transcript, translation, audio) and
timed from the end of utterance on the client's clock; per-stage figures come from the `stage_ms` the
results carry.

- `config.py`   — ProbeConfig: what a run does
- `speech.py`   — the audio it sends: espeak-ng clips, and how a session lays them out
- `session.py`  — one session over babelstream.client, and what came back
- `trace.py`    — each utterance's chain and latencies, from one session's arrivals
- `speakers.py` — the speakers, session after session, and the whole run (`probe`)
- `figures.py`  — percentiles of everything measured (`summarize`)
- `report.py`   — the table for a person, and the JSON
- `command.py`  — the command line

The names below are the probe's API for the benches and tests.
"""

from babelstream.clients.probe.command import run_probe
from babelstream.clients.probe.config import ProbeConfig
from babelstream.clients.probe.figures import percentiles, summarize
from babelstream.clients.probe.report import format_report, run_to_json
from babelstream.clients.probe.speakers import ProbeRun, probe, split_counts
from babelstream.clients.probe.speech import Clip, Placed, SpeechCache, trim_silence
from babelstream.clients.probe.trace import SessionResult, UtteranceRecord, default_cut_lag_ms, trace_session

__all__ = [
    "Clip",
    "Placed",
    "ProbeConfig",
    "ProbeRun",
    "SessionResult",
    "SpeechCache",
    "UtteranceRecord",
    "default_cut_lag_ms",
    "format_report",
    "percentiles",
    "probe",
    "run_probe",
    "run_to_json",
    "split_counts",
    "summarize",
    "trace_session",
    "trim_silence",
]
