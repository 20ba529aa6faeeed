"""Cuts a live PCM16 stream into utterances: speech bounded by silence, with a hard length cap.

A live stream feeds its endpointer 50 times a second, so the per-frame path only calls the detector and appends
the frame to a list; all clock arithmetic is in whole frames, and a frame's bytes are copied once, when its
utterance is joined. (A C version of this class saved nothing measurable in the gateway and was removed:
docs/benchmarks/gateway-capacity.md.)
"""

from __future__ import annotations

import numpy as np

from babelstream.engines.vad.base import VoiceActivityDetector
from babelstream.engines.vad.utterance import TENTATIVE, WITHDRAWN, FrameCounts, Utterance

__all__ = ["Endpointer", "Utterance", "split_recording"]

# While idle, silence beyond the pre-roll is dropped once this many extra frames have piled up.
_IDLE_TRIM_FRAMES = 32
# With quiet frames counted as pause, a cut first looks at the last ONSET_FRAMES: a word starting again shows there
# as energy ONSET_RISE_DB over the pause's floor before the detector calls it speech (it lags a frame or two), and
# the cut waits for the detector, up to ONSET_WAIT_FRAMES. Without it a put-in 250 ms pause measured up to 300.
ONSET_FRAMES = 2
ONSET_RISE_DB = 15.0
ONSET_RISE = 10 ** (ONSET_RISE_DB / 10)
ONSET_WAIT_FRAMES = 3


class Endpointer:
    """feed() any chunk sizes; get each utterance once the speaker has been quiet for min_silence_ms.

    Speech is never cut by silence shorter than min_silence_ms. A segment that reaches max_segment_ms
    is cut at its last silent frame in its second half (at max_segment_ms when there is none), and
    the rest carries on as the next segment. Segments with fewer than min_speech_ms of voiced frames
    (clicks, coughs, detector flicker) are dropped.

    With speculate_ms, an utterance is also offered early, as TENTATIVE, once the speaker has been quiet that long:
    the pipeline may start on it while the pause might still be in-sentence. If speech resumes first, a WITHDRAWN
    utterance (no audio) says the offer is void and the utterance goes on; if the pause holds, the FINAL one
    follows as usual, or the owner ends it at the tentative point with commit_tentative().

    With quiet_dbfs, the frames just before a pause that the detector called speech but that are quieter than that
    (at most QUIET_TAIL_MAX_MS of them: WebRTC's hangover) count as part of the pause, for the tentative offer, for
    `pause_ms` and for the cut, so the cut comes min_silence_ms after the speech, not after the detector's hangover.
    Before it cuts, it looks for a word starting again that the detector has not called speech yet (_speech_resuming),
    since a pause so measured is also longer at its far end. Both look at frames once per pause, not per frame.
    """

    # Slots: 1,000 streams' objects are touched 50 times a second each; attributes in the object itself rather than
    # a dict keep each frame to fewer cache lines (docs/benchmarks/gateway-capacity.md).
    __slots__ = (
        "_audio", "_audio_start_frame", "_frame_bytes", "_frame_ms", "_in_speech", "_is_speech",
        "_last_silent_end", "_last_voiced_end", "_max_frames", "_min_voiced_frames", "_next_frame", "_pending",
        "_post_roll_frames", "_pre_roll_frames", "_quiet_energy", "_quiet_tail", "_quiet_tail_frames",
        "_silence_frames_to_end", "_speculate_frames", "_speculated", "_vad", "_voiced_frames"
    )


    def __init__(self, vad: VoiceActivityDetector, **settings: int | float | None):
        """settings: min_silence_ms, max_segment_ms, pre_roll_ms, min_speech_ms, post_roll_ms, speculate_ms,
        quiet_dbfs (defaults and validation in FrameCounts.of)."""
        counts = FrameCounts.of(vad, **settings)
        self._vad = vad
        # Bound once: this runs 50 times a second per stream. Frames here are always exactly one detector frame,
        # so a detector's unchecked call is safe where it has one.
        self._is_speech = getattr(vad, "classify_frame", vad.is_speech)
        self._frame_ms = counts.frame_ms
        self._frame_bytes = counts.frame_bytes
        self._silence_frames_to_end = counts.silence_frames_to_end
        self._max_frames = counts.max_frames
        self._pre_roll_frames = counts.pre_roll_frames
        self._min_voiced_frames = counts.min_voiced_frames
        self._post_roll_frames = counts.post_roll_frames
        self._speculate_frames = counts.speculate_frames
        self._speculated = 0  # frame index where the outstanding tentative utterance ends; 0: none
        self._quiet_tail_frames = counts.quiet_tail_frames
        self._quiet_energy = counts.quiet_energy
        self._quiet_tail = 0  # quiet "speech" frames before the current pause, counted as part of it

        self._pending = bytearray()  # bytes of an incomplete frame between feeds
        # One bytes object per frame. Idle: the pre-roll; in speech: the segment so far. A list, not a bytearray:
        # a growing bytearray is reallocated and copied as it grows (over 1 MB copied per 4 s utterance), and
        # cutting its front makes the next append copy it whole.
        self._audio: list[bytes] = []
        self._audio_start_frame = 0  # stream frame index of self._audio[0]
        self._next_frame = 0  # stream frame index of the next frame to classify
        self._in_speech = False
        self._voiced_frames = 0
        self._last_voiced_end = 0  # frame index just after the latest voiced frame
        self._last_silent_end = -1  # frame index just after the latest unvoiced frame of the segment

    @property
    def frame_ms(self) -> int:
        return self._frame_ms

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def open_start_ms(self) -> int:
        """Where the open utterance (or, idle, the pre-roll) starts in the stream."""
        return self._audio_start_frame * self._frame_ms

    @property
    def pause_ms(self) -> int:
        """How long the speaker has been quiet in the open utterance (its quiet tail included); 0 while speaking."""
        if not self._in_speech or self._next_frame == self._last_voiced_end:
            return 0
        return (self._next_frame - self._last_voiced_end + self._quiet_tail) * self._frame_ms

    @property
    def stream_ms(self) -> int:
        """How much of the stream has been classified: where the open utterance's audio ends."""
        return self._next_frame * self._frame_ms

    def open_audio_since(self, ms: int) -> bytes:
        """The open utterance's audio from `ms` in the stream to now (interim results read it; not per frame)."""
        first = max(0, ms // self._frame_ms - self._audio_start_frame)
        return b"".join(self._audio[first:])

    def commit_tentative(self) -> bool:
        """End the open utterance where its tentative offer ended, if the speaker has stayed quiet since; False
        when there is no such offer (withdrawn, ended, or never made). The audio after that point becomes the
        next pre-roll, as when a pause ends an utterance."""
        if not self._speculated or not self._in_speech:
            return False
        end_frame = self._speculated
        self._speculated = 0
        self._close_segment(end_frame, None)
        return True

    def feed(self, pcm: bytes) -> list[Utterance]:
        completed: list[Utterance] = []
        frame_bytes = self._frame_bytes
        pending = self._pending
        if not pending and len(pcm) == frame_bytes:
            # The commonest live case by far (one VAD frame per message): no view, no loop.
            self._step(pcm if type(pcm) is bytes else bytes(pcm), completed)
            return completed
        if not pending and len(pcm) % frame_bytes == 0:
            # Common live case (whole frames per message): classify straight from the caller's buffer.
            with memoryview(pcm) as whole:
                for offset in range(0, len(pcm), frame_bytes):
                    self._step(whole[offset : offset + frame_bytes].tobytes(), completed)
            return completed
        pending += pcm
        usable = len(pending) - len(pending) % frame_bytes
        if not usable:
            return completed
        view = memoryview(pending)
        try:
            for offset in range(0, usable, frame_bytes):
                self._step(view[offset : offset + frame_bytes].tobytes(), completed)
        finally:
            view.release()  # a live export would forbid resizing `pending` below
        del pending[:usable]
        return completed

    def flush(self) -> list[Utterance]:
        """End of stream: the pending speech, if any; an incomplete trailing frame is discarded."""
        completed: list[Utterance] = []
        if self._in_speech:
            self._close_segment(self._last_voiced_end + self._post_roll_frames, completed)
        self._speculated = 0
        self._pending.clear()
        self._audio.clear()
        self._audio_start_frame = self._next_frame
        self._in_speech = False
        return completed

    def _step(self, frame: bytes, completed: list[Utterance]) -> None:
        voiced = self._is_speech(frame)
        index = self._next_frame
        self._next_frame = index + 1
        audio = self._audio
        audio.append(frame)
        if not self._in_speech:
            if voiced:
                self._trim_front(len(audio) - self._pre_roll_frames - 1)
                self._in_speech = True
                self._voiced_frames = 1
                self._last_voiced_end = index + 1
                self._last_silent_end = -1
            elif len(audio) > self._pre_roll_frames + _IDLE_TRIM_FRAMES:
                self._trim_front(len(audio) - self._pre_roll_frames)  # in batches: cheaper than one by one
            return
        if voiced:
            self._voiced_frames += 1
            self._last_voiced_end = index + 1
            if self._speculated:
                self._withdraw(completed)
        else:
            self._last_silent_end = index + 1
            silent_frames = index + 1 - self._last_voiced_end
            if silent_frames == 1:
                self._quiet_tail = self._count_quiet_tail() if self._quiet_tail_frames else 0
            pause_frames = silent_frames + self._quiet_tail
            if pause_frames >= self._silence_frames_to_end and not self._speech_resuming(pause_frames):
                self._close_segment(self._last_voiced_end + self._post_roll_frames, completed)
                return
            if not self._speculated and pause_frames >= self._speculate_frames > 0:
                self._speculate(completed)
        if len(audio) >= self._max_frames:
            self._force_cut(completed)

    def _count_quiet_tail(self) -> int:
        """How many of the frames up to the last one called speech are quiet (from the last backwards)."""
        audio = self._audio
        last = self._last_voiced_end - 1 - self._audio_start_frame
        count = 0
        for position in range(last, max(-1, last - self._quiet_tail_frames), -1):
            if _mean_square(audio[position]) >= self._quiet_energy:
                break
            count += 1
        return count

    def _speech_resuming(self, pause_frames: int) -> bool:
        """At the cut, with quiet frames counted as pause: whether the latest frames are a word starting that the
        detector has not called speech yet (louder than quiet, and ONSET_RISE_DB over the pause's quietest frame).
        The cut then waits, at most ONSET_WAIT_FRAMES, for the detector to decide. Looked at only at the cut."""
        if not self._quiet_tail_frames or pause_frames >= self._silence_frames_to_end + ONSET_WAIT_FRAMES:
            return False
        audio = self._audio
        pause_start = self._last_voiced_end - self._quiet_tail - self._audio_start_frame
        energies = [_mean_square(frame) for frame in audio[max(0, pause_start) :]]
        if len(energies) <= ONSET_FRAMES:
            return False
        floor = min(energies[:-ONSET_FRAMES]) * ONSET_RISE
        return any(energy >= self._quiet_energy and energy >= floor for energy in energies[-ONSET_FRAMES:])

    def _trim_front(self, frames: int) -> None:
        if frames > 0:
            del self._audio[:frames]
            self._audio_start_frame += frames

    def _speculate(self, completed: list[Utterance]) -> None:
        if self._voiced_frames < self._min_voiced_frames:
            return
        self._speculated = self._next_frame
        start_ms = self._audio_start_frame * self._frame_ms
        completed.append(Utterance(b"".join(self._audio), start_ms, self._next_frame * self._frame_ms, TENTATIVE))

    def _withdraw(self, completed: list[Utterance]) -> None:
        start_ms = self._audio_start_frame * self._frame_ms
        completed.append(Utterance(b"", start_ms, self._speculated * self._frame_ms, WITHDRAWN))
        self._speculated = 0

    def _close_segment(self, end_frame: int, completed: list[Utterance] | None) -> None:
        """Emit audio up to end_frame (None: emit nothing, it was taken already); what follows becomes the next
        pre-roll (no overlap between utterances)."""
        kept_frames = min(len(self._audio), end_frame - self._audio_start_frame)
        self._speculated = 0
        if completed is not None:
            self._emit(kept_frames, completed)
        self._trim_front(kept_frames)
        self._trim_front(len(self._audio) - self._pre_roll_frames)
        self._in_speech = False

    def _force_cut(self, completed: list[Utterance]) -> None:
        segment_frames = len(self._audio)
        half_way = self._audio_start_frame + segment_frames // 2
        # Prefer a pause over a cut through a word; the frames after the pause are all voiced.
        cut_frame = self._last_silent_end if self._last_silent_end > half_way else self._next_frame
        kept_frames = cut_frame - self._audio_start_frame
        self._speculated = 0
        self._emit(kept_frames, completed)
        self._trim_front(kept_frames)
        carried_frames = self._next_frame - cut_frame
        self._voiced_frames = carried_frames
        if not carried_frames:
            # Nothing carried over yet: restart the silence clock so a speaker who stops now still gets a tail.
            self._last_voiced_end = self._next_frame
        self._last_silent_end = -1

    def _emit(self, kept_frames: int, completed: list[Utterance]) -> None:
        if self._voiced_frames < self._min_voiced_frames or kept_frames <= 0:
            return
        start_ms = self._audio_start_frame * self._frame_ms
        end_ms = start_ms + kept_frames * self._frame_ms
        completed.append(Utterance(b"".join(self._audio[:kept_frames]), start_ms, end_ms))


def _mean_square(frame: bytes) -> float:
    samples = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    return float(np.dot(samples, samples)) / max(1, samples.size)


def split_recording(vad: VoiceActivityDetector, pcm: bytes, **endpointer_options: int) -> list[Utterance]:
    """Endpoint a whole recording at once, e.g. an uploaded file."""
    endpointer = Endpointer(vad, **endpointer_options)
    return endpointer.feed(pcm) + endpointer.flush()
