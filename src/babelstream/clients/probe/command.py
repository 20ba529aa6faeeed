"""`babelstream probe`: the command line (arguments, a reachability check, the report, exit code)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babelstream.client.connection import AudioConnection, ConnectFailed, Refused
from babelstream.clients.probe.config import ProbeConfig
from babelstream.clients.probe.figures import summarize
from babelstream.clients.probe.report import format_report, run_to_json
from babelstream.clients.probe.speakers import probe


async def check_reachable(url: str) -> str | None:
    """None when a WebSocket opens at url, else a message saying why not."""
    try:
        connection = await AudioConnection.open(url)
    except Refused:
        return None  # it answered (at capacity, say): the sessions meet the refusal and report it themselves
    except ConnectFailed as error:
        return str(error)
    await connection.close()
    return None


async def run_probe(args) -> int:
    targets = tuple(t.strip().lower() for t in (getattr(args, "to", "es") or "es").split(",") if t.strip())
    n = getattr(args, "n", 100)
    concurrency = getattr(args, "concurrency", 1)
    if n is None or n < 1 or concurrency < 1:
        print("babelstream probe: -n and --concurrency must be at least 1", file=sys.stderr)
        return 2
    config = ProbeConfig(
        url=getattr(args, "url", ProbeConfig.url),
        n=n,
        concurrency=concurrency,
        targets=targets or ("es",),
        synthesize=getattr(args, "synthesize", True),
    )
    problem = await check_reachable(config.url)
    if problem:
        print(f"babelstream probe: {problem}", file=sys.stderr)
        return 1
    try:
        run = await probe(config, progress=lambda line: print(line, file=sys.stderr, flush=True))
    except RuntimeError as error:
        print(f"babelstream probe: {error}", file=sys.stderr)
        return 2
    figures = summarize(run)
    print(format_report(run, figures))
    json_out = getattr(args, "json_out", None)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(run_to_json(run, figures), indent=2))
        print(f"figures written to {json_out}")
    return 1 if figures["broken_chains"] else 0
