// The spoken translations: decoded in arrival order, played one clip at a time in sentence order, never
// overlapping; every clip can be played again from its row.

import { sharedAudioContext } from "./audio-context.js";
import { languageName } from "./language-names.js";
import { notify } from "./notices.js";

const ECHO_TAIL_MS = 250; // the microphone stays held this long after a clip, for the room's echo

const playedCount = document.querySelector("#played-count");

class Player {
  constructor() {
    this.queue = []; // {order, buffer, slot}
    this.current = null;
    this.quietSince = 0;
    this.count = 0;
    this.pending = Promise.resolve();
  }

  // True while a clip plays, and for a moment after: the microphone would hear the loudspeaker.
  get speaking() {
    return this.current !== null || performance.now() - this.quietSince < ECHO_TAIL_MS;
  }

  // `audio`: the clip's file (WAV or Ogg Opus: decodeAudioData reads both); `order`: its place among the clips;
  // `slot`: its row (captions.audioSlot).
  // Decodes in arrival order (chained); offers a replay button; auto-plays when `autoplay`.
  enqueue(audio, order, slot, autoplay) {
    this.pending = this.pending.then(async () => {
      try {
        const buffer = await sharedAudioContext().decodeAudioData(audio);
        this.addReplay(slot, { buffer, slot });
        if (!autoplay) return;
        this.queue.push({ order, buffer, slot });
        this.queue.sort((a, b) => a.order - b.order);
        this.pump();
      } catch (failure) {
        notify("warning", "decode", "A spoken translation could not be played.", String(failure));
      }
    });
  }

  replay(clip) {
    this.queue.push({ ...clip, order: Number.MAX_SAFE_INTEGER });
    this.pump();
  }

  stopAll() {
    this.queue = [];
    if (this.current) {
      this.current.onended = null;
      try {
        this.current.stop();
      } catch {
        /* already stopped */
      }
      this.current = null;
    }
  }

  pump() {
    if (this.current || !this.queue.length) return;
    const clip = this.queue.shift();
    const context = sharedAudioContext();
    const node = context.createBufferSource();
    node.buffer = clip.buffer;
    node.connect(context.destination);
    this.current = node;
    clip.slot.dataset.playing = "true";
    node.onended = () => {
      clip.slot.dataset.playing = "false";
      clip.slot.dataset.played = "true";
      this.current = null;
      this.quietSince = performance.now();
      this.pump();
    };
    if (context.state === "suspended") context.resume();
    node.start();
    this.count += 1;
    playedCount.textContent = String(this.count);
  }

  addReplay(slot, clip) {
    if (slot.querySelector(".replay")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "replay";
    button.textContent = "▶";
    button.setAttribute("aria-label", `Play the ${languageName(slot.dataset.lang)} translation again`);
    button.addEventListener("click", () => this.replay(clip));
    slot.append(button);
  }
}

// One player for the page: clips of successive sessions share the loudspeaker.
export const player = new Player();
