// The audio the server may not have published yet: everything captured since the end of the last utterance it
// announced (a `segment`'s end_ms, or a `resumed`'s published_ms), sent or not. Audio captured while no socket
// is open waits here, and a resumed session sends all of it again (docs/protocol.md, "Resuming a session"): the
// server skips what it had published already. Positions are on the session's timeline, in bytes of 16 kHz PCM16
// from its first sample.
//
// Bounded by what a new socket may send at once: the server's audio-speed limit holds a burst of
// `max_audio_burst_seconds` (`ready`'s limits, 10 s by default) and closes a faster sender (`audio_too_fast`).
// This keeps BURST_SHARE of it, so the live frames that follow the burst still fit. Past that the oldest audio is
// dropped: before the session's first socket, that audio is simply not part of the session; after, it is a gap on
// the timeline (a drop longer than the bound, or an utterance longer than it that was open when its gateway died),
// which the server names in an `audio_lost` warning.

const BYTES_PER_MS = 32; // 16 kHz, 2 bytes a sample
const DEFAULT_BURST_SECONDS = 10; // MAX_AUDIO_BURST_SECONDS's default, until `ready` says
const BURST_SHARE = 0.8;

export class UnpublishedAudio {
  constructor() {
    this.frames = []; // ArrayBuffers, oldest first, from startByte to endByte
    this.startByte = 0;
    this.endByte = 0;
    this.sentByte = 0; // the audio up to here went to a socket
    this.begun = false; // the session's timeline has begun: its first audio went to a server
    this.setBurstSeconds(DEFAULT_BURST_SECONDS);
  }

  setBurstSeconds(seconds) {
    if (!(seconds > 0)) return;
    this.limitBytes = Math.max(1, Math.floor(seconds * 1000 * BURST_SHARE)) * BYTES_PER_MS;
  }

  get keptMs() {
    return (this.endByte - this.startByte) / BYTES_PER_MS;
  }

  push(pcm) {
    this.frames.push(pcm);
    this.endByte += pcm.byteLength;
    while (this.endByte - this.startByte > this.limitBytes && this.frames.length > 1) {
      const dropped = this.frames.shift().byteLength;
      if (this.begun) {
        this.startByte += dropped; // a gap on the timeline: the server names it (audio_lost)
      } else {
        this.endByte -= dropped; // nothing was sent: the timeline begins with the oldest audio kept
      }
      this.sentByte = Math.max(this.sentByte, this.startByte);
    }
  }

  // The server published the audio up to `ms`: what ends there or before will not be needed again.
  confirm(ms) {
    const end = ms * BYTES_PER_MS;
    while (this.frames.length && this.startByte + this.frames[0].byteLength <= end) {
      this.startByte += this.frames.shift().byteLength;
    }
    this.sentByte = Math.max(this.sentByte, this.startByte);
  }

  // The frames not sent yet, from now on counted as sent. The first call begins the session's timeline.
  takeUnsent() {
    this.begun = true;
    let position = this.endByte;
    let first = this.frames.length;
    while (first > 0 && position > this.sentByte) position -= this.frames[--first].byteLength;
    this.sentByte = this.endByte;
    return this.frames.slice(first);
  }

  // A new socket takes the session up: everything kept is to be sent again. Returns where it begins on the
  // timeline, in milliseconds (the resume message's audio_ms).
  rewind() {
    this.sentByte = this.startByte;
    return Math.floor(this.startByte / BYTES_PER_MS);
  }
}
