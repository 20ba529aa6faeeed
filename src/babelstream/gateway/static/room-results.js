// A room's results on screen (docs/protocol.md, "Rooms"): each speaker's sentences in caption rows keyed by its
// session's id (`speaker`), so two speakers' sentence numbers never meet, and its spoken translations to the
// player. The listener page shows every result this way; the speaker page shows the others in its room this way
// (conversation), beside its own session's rows. A sentence still being spoken shows in the speaker's live row as
// on the speaker's own page (captions.js): its partial, lighter tail and all, and its partial translation; a room
// sends no `segment`, so its first final (same start_ms) turns that row into the sentence's row, in place.

import * as captions from "./captions.js";
import { player } from "./player.js";

// After every clip of the page's own sessions (player.js orders by session and sentence): room clips play in the
// order they arrive, which is each speaker's sentence order.
const ROOM_CLIP_ORDER = 1e15;

const streams = new Map(); // speaker id -> what captions.js keys its rows by
let clips = 0;

// `other`: set apart as someone else's words (the speaker page); the listener page hears only others.
function streamOf(speaker, other) {
  let stream = streams.get(speaker);
  if (!stream) {
    // No translation slot is made in advance: the speaker may speak the reader's own language.
    stream = { number: speaker, targets: [], other };
    streams.set(speaker, stream);
  }
  return stream;
}

// One result message that carries `speaker`; `audio`: an audio message's file (Ogg Opus or WAV). `autoplay(m)`:
// whether this clip plays by itself (else it can be played from its row).
export function showRoomResult(m, audio, { other, autoplay }) {
  const stream = streamOf(m.speaker, other);
  switch (m.type) {
    case "partial":
      captions.showPartial(stream, m);
      break;
    case "partial_translation":
      captions.showPartialTranslation(stream, m);
      break;
    case "transcript":
      captions.segmentRow(stream, m);
      captions.showTranscript(stream, m);
      break;
    case "translation":
      captions.segmentRow(stream, m);
      captions.showTranslation(stream, m);
      break;
    case "audio":
      player.enqueue(audio, ROOM_CLIP_ORDER + ++clips, captions.audioSlot(stream, m.segment_index, m.language), autoplay(m));
      break;
    case "warning":
      if ((m.kind ?? m.code) === "translation_unavailable") captions.markTranslationFailed(stream, m);
      break;
    default:
      break;
  }
}
