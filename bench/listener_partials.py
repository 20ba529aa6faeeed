"""What a room's interim results cost a listener's socket, per second of speech: messages and bytes of each type a
listener receives with partials on (the default) and with `partials=0`, the speaker asking for `translate_partials`.

The whole platform in one process (real models), one speaker talking into a room in real time, two Portuguese
listeners without voice: one takes partials, one does not (the reference, in the same run). Each round speaks the same
sentences run together without a pause (one long utterance, the case partials are for), then a pause. Prints, per
type, messages and bytes per second of speech (median over rounds), and the ratio of a listener's bytes with
partials to without. Partials are best effort: on a busy machine fewer come (stale windows are skipped), so say the
load (`uptime`) beside the figures.

    .venv/bin/python bench/listener_partials.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from tests.support.harness import frames_of, running_embedded_platform, stream  # noqa: E402
from tests.support.rooms import RoomListener  # noqa: E402
from tests.support.speech import silence, spoken_without_pauses  # noqa: E402

TALK = (
    "We walked along the beach for a long time and talked about the summer",
    "then everybody went home to have dinner with their families and friends",
)
TYPES = ("partial", "partial_translation", "transcript", "translation")


def per_type(messages: list[dict]) -> dict[str, tuple[int, int]]:
    counts = {kind: (0, 0) for kind in TYPES}
    for message in messages:
        kind = message.get("type")
        if kind in counts:
            n, size = counts[kind]
            counts[kind] = (n + 1, size + len(json.dumps(message, separators=(",", ":"))))
    return counts


async def one_round(address: str, pcm: bytes) -> tuple[dict, dict, float]:
    room = f"bench-{uuid.uuid4().hex[:6]}"
    with_partials = await RoomListener.join(address, room, "pt", voice=False)
    without = await RoomListener.join(address, room, "pt", voice=False, partials=False)
    talk = await stream(address, frames_of(pcm), pace_seconds=0.02, start={
        "event": "start", "room": room, "language": "en", "targets": [], "synthesize": False,
        "translate_partials": True})
    assert talk.close_code == 1000, talk.close_code
    for listener in (with_partials, without):
        await listener.heard.wait_for(lambda m: m.get("type") == "translation", timeout=60)
    await asyncio.sleep(1.0)
    for listener in (with_partials, without):
        await listener.leave()
    return per_type(with_partials.heard.messages), per_type(without.heard.messages), len(pcm) / 32_000


async def main(rounds: int) -> None:
    pcm = silence(300) + spoken_without_pauses(TALK) + silence(1200)
    results = []
    async with running_embedded_platform() as address:
        for index in range(rounds):
            results.append(await one_round(address, pcm))
            print(f"round {index + 1}/{rounds} done", file=sys.stderr)
    speech_seconds = results[0][2]
    print(f"{rounds} rounds, {speech_seconds:.1f} s of audio each (speech with the pauses around it)")
    print(f"{'type':<22}{'with partials: msg/s':>22}{'bytes/s':>10}{'partials=0: msg/s':>20}{'bytes/s':>10}")
    totals_on, totals_off = [], []
    for kind in TYPES:
        on = [(r[0][kind][0] / r[2], r[0][kind][1] / r[2]) for r in results]
        off = [(r[1][kind][0] / r[2], r[1][kind][1] / r[2]) for r in results]
        print(f"{kind:<22}{statistics.median(m for m, _ in on):>22.2f}{statistics.median(b for _, b in on):>10.0f}"
              f"{statistics.median(m for m, _ in off):>20.2f}{statistics.median(b for _, b in off):>10.0f}")
    for r in results:
        totals_on.append(sum(r[0][kind][1] for kind in TYPES) / r[2])
        totals_off.append(sum(r[1][kind][1] for kind in TYPES) / r[2])
    on, off = statistics.median(totals_on), statistics.median(totals_off)
    print(f"{'all text':<22}{'':>22}{on:>10.0f}{'':>20}{off:>10.0f}")
    print(f"ratio with/without partials (bytes of text per second of speech): {on / off:.2f}x "
          f"(min {min(a / b for a, b in zip(totals_on, totals_off)):.2f}, max {max(a / b for a, b in zip(totals_on, totals_off)):.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
