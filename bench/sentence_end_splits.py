"""How early an utterance could end without splitting a sentence: the endpointer alone, and the worst case of an
early end on a finished-looking sentence, on the same audio as bench/end_of_utterance.py. No server, no clock:
the counts do not move with the machine's load.

For each seed, the sentences with a put-in 150/200/250 ms pause (bench/end_of_utterance.py's `paused` set, never
used to tune these settings) are fed to the live endpointer frame by frame, and:

  * `cut at the put-in pause` / `at another pause`: sentences the endpointer cuts inside (MIN_SILENCE_MS of pause),
    at the pause put in or elsewhere (a comma the voice paused at, a sentence boundary inside a reference line),
    with the detector's hangover counted as speech (as before) and with its quiet frames counted as pause (the
    default since VAD_QUIET_DBFS=-50);
  * `longest pause inside`: the longest pause inside each sentence as `Endpointer.pause_ms` measures it (the quiet
    hangover counted as pause), against the pause the detector leaves at the end of a sentence;
  * `early end, worst case`: at the first moment inside a sentence that the pause reaches T, the tentative
    utterance's transcript (the ASR stage's own recognizer) is taken to be ready at once; the sentence is split
    when it reads as a finished one (gateway/speculation.py's ends_sentence), as EARLY_END_ON_SENTENCE would.
    A split there may fall at a sentence boundary inside a reference line (they hold one or two sentences), so the
    transcripts are printed to tell those from cuts in mid-sentence.

    .venv/bin/python bench/sentence_end_splits.py --seeds 5,9,12 --paused 12
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from bench.end_of_utterance import build_audio  # noqa: E402
from babelstream.engines.vad.endpointer import Endpointer  # noqa: E402
from babelstream.segmentation import SegmentationSettings, _new_vad  # noqa: E402
from babelstream.engines.vad.utterance import FINAL, POST_ROLL_MS, QUIET_DBFS, TENTATIVE  # noqa: E402
from babelstream.gateway.speculation import ends_sentence  # noqa: E402
from tests.support.speech import silence  # noqa: E402

FRAME_BYTES = 640  # 20 ms at 16 kHz
LEAD_MS = 300


def frames(pcm: bytes):
    for offset in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
        yield offset // FRAME_BYTES, pcm[offset : offset + FRAME_BYTES]


def endpointer(quiet_dbfs: float | None, min_silence_ms: int = 300) -> Endpointer:
    settings = SegmentationSettings()
    return Endpointer(_new_vad(settings), min_silence_ms=min_silence_ms, max_segment_ms=60_000,
                      speculate_ms=settings.speculate_ms, quiet_dbfs=quiet_dbfs)


def inside(piece: bytes) -> tuple[bytes, int]:
    """The piece with the bench's lead and tail of silence, and the frame where the piece's audio ends."""
    return silence(LEAD_MS) + piece + silence(1500), (LEAD_MS + len(piece) // 32) // 20 - 1


def cuts_inside(piece: bytes, quiet_dbfs: float | None) -> list[int]:
    """Where the endpointer ends an utterance inside the piece: the end of the speech before each cut (ms into the
    piece: the cut utterance's end less its post-roll)."""
    pcm, last = inside(piece)
    ep = endpointer(quiet_dbfs)
    cuts = []
    for index, frame in frames(pcm):
        if index >= last:
            break
        cuts += [u.end_ms - POST_ROLL_MS - LEAD_MS for u in ep.feed(frame) if u.kind == FINAL]
    return cuts


def at_put_in(cut_ms: int, put_in: tuple[int, int]) -> bool:
    """A cut falls at the put-in pause when the speech before it ends there (or in the word's last 150 ms)."""
    return put_in[0] - 150 <= cut_ms <= put_in[1]


def longest_pause_inside(piece: bytes) -> int:
    pcm, last = inside(piece)
    ep = endpointer(-50.0, min_silence_ms=100_000)
    longest = 0
    for index, frame in frames(pcm):
        if index >= last:
            break
        ep.feed(frame)
        longest = max(longest, ep.pause_ms)
    return longest


def pause_at_end(piece: bytes, ms_after: int) -> int:
    """What pause_ms says `ms_after` the piece's last audible sample (the detector's hangover counted as pause)."""
    pcm, last = inside(piece)
    ep = endpointer(-50.0, min_silence_ms=100_000)
    for index, frame in frames(pcm):
        ep.feed(frame)
        if index >= last + ms_after // 20:
            return ep.pause_ms
    return 0


def early_end_split(piece: bytes, pause_ms: int, recognizer) -> str | None:
    """The transcript that would end the sentence early, or None."""
    pcm, last = inside(piece)
    ep = endpointer(-50.0)
    tentative = None
    checked = False
    for index, frame in frames(pcm):
        if index >= last:
            return None
        for utterance in ep.feed(frame):
            if utterance.kind == FINAL:
                return None  # cut by the pause alone: counted above
            if utterance.kind == TENTATIVE:
                tentative, checked = utterance, False
        if tentative is not None and not checked and ep.in_speech and ep.pause_ms >= pause_ms:
            checked = True
            recognition = recognizer.transcribe(tentative.pcm, 16_000, "en")
            if recognition is not None and ends_sentence(recognition.text, "en"):
                return recognition.text
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="5,9,12")
    parser.add_argument("--paused", type=int, default=12)
    parser.add_argument("--pauses", default="260,300", help="EARLY_END_PAUSE_MS values to try ('' for none)")
    args = parser.parse_args()
    from babelstream.settings import Settings
    from babelstream.stages.asr import AsrStage

    recognizer = AsrStage(Settings().stages, "bench").recognizer("en") if args.pauses else None
    totals: dict[str, int] = {}
    count = 0
    for seed in (int(s) for s in args.seeds.split(",")):
        sentences, paused, pauses, put_in = build_audio(
            argparse.Namespace(sentences=args.paused, paused=args.paused, seed=seed)
        )
        count += len(paused)
        row = {}
        for label, quiet_dbfs in (("shipped before (hangover counted as speech)", None),
                                  (f"quiet frames counted as pause (VAD_QUIET_DBFS {QUIET_DBFS:g})", QUIET_DBFS)):
            cuts = [cuts_inside(p, quiet_dbfs) for p in paused]
            row[f"cut at the put-in pause, {label}"] = sum(
                any(at_put_in(c, span) for c in found) for found, span in zip(cuts, put_in))
            row[f"cut at another pause, {label}"] = sum(
                any(not at_put_in(c, span) for c in found) for found, span in zip(cuts, put_in))
        longest = sorted(longest_pause_inside(p) for p in paused)
        at_end = [pause_at_end(s, 300) for s in sentences]
        print(f"seed {seed}: {len(paused)} paused sentences {pauses}; longest pause inside each (ms): {longest}; "
              f"pause_ms 300 ms after each clean sentence's last audible sample: median {np.median(at_end):.0f}")
        for pause_ms in (int(p) for p in args.pauses.split(",") if p):
            texts = [early_end_split(p, pause_ms, recognizer) for p in paused]
            row[f"early end at {pause_ms} ms, worst case"] = sum(t is not None for t in texts)
            for text in texts:
                if text is not None:
                    print(f"  early end at {pause_ms} ms would cut after: {text!r}")
        for name, value in row.items():
            totals[name] = totals.get(name, 0) + value
            print(f"  {name}: {value}/{len(paused)}")
    print(f"all seeds ({count} sentences): " + "; ".join(f"{name} {value}" for name, value in totals.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
