// The microphone: getUserMedia -> AudioWorklet (pcm-worklet.js) -> 16 kHz PCM16 frames, handed to
// `onFrame(pcm, rms)`; and the level meter beside the Start button.

const FLUSH_WAIT_MS = 300; // how long Stop waits for the worklet's last partial frame

const level = document.querySelector("#level-bar");
const micNote = document.querySelector("#mic-note");

let workletLoaded = null; // the processor module is added to the page's AudioContext once

// A failure the page names itself (explanations.js words them), beside the browser's DOMExceptions.
export class MicError extends Error {
  constructor(name, detail = "") {
    super(detail);
    this.name = name;
  }
}

export class Microphone {
  constructor({ frameMs, onFrame, onEnded }) {
    this.frameMs = frameMs;
    this.onFrame = onFrame; // (pcm: ArrayBuffer, rms: number)
    this.onEnded = onEnded; // the track ended without being released: unplugged, or access withdrawn
    this.released = false;
    this.stream = this.input = this.worklet = null;
  }

  // Resolves true once frames flow; false if released meanwhile (Stop during the permission prompt).
  // Throws a MicError or the browser's DOMException.
  async open(context) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new MicError("insecure");
    if (!context.audioWorklet) throw new MicError("noworklet");
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
    if (this.released) return this.release();
    workletLoaded =
      workletLoaded ||
      context.audioWorklet.addModule("pcm-worklet.js").catch((failure) => {
        workletLoaded = null;
        throw new MicError("worklet", String(failure));
      });
    await workletLoaded;
    if (this.released) return this.release();
    this.input = context.createMediaStreamSource(this.stream);
    this.worklet = new AudioWorkletNode(context, "pcm-framer", {
      numberOfInputs: 1,
      numberOfOutputs: 1, // connected to the output (silently) so every browser keeps pulling it
      channelCountMode: "explicit",
      channelCount: 1,
      processorOptions: { frameMs: this.frameMs },
    });
    this.worklet.port.onmessage = (event) => this.onWorklet(event.data);
    this.input.connect(this.worklet);
    this.worklet.connect(context.destination);
    for (const track of this.stream.getAudioTracks()) {
      track.addEventListener("ended", () => {
        if (!this.released) this.onEnded();
      });
    }
    return true;
  }

  onWorklet(message) {
    if (message.type === "flushed") {
      if (this.flushed) this.flushed();
      return;
    }
    if (message.type === "frame") this.onFrame(message.pcm, message.rms);
  }

  // The last partial frame, so the final words are not cut off.
  async flush() {
    if (!this.worklet) return;
    await Promise.race([
      new Promise((resolve) => {
        this.flushed = resolve;
        this.worklet.port.postMessage({ type: "flush" });
      }),
      new Promise((resolve) => setTimeout(resolve, FLUSH_WAIT_MS)),
    ]);
  }

  // Stops capturing for good; safe to call more than once, and before open() has finished.
  release() {
    this.released = true;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    if (this.input) this.input.disconnect();
    if (this.worklet) {
      this.worklet.port.onmessage = null;
      this.worklet.disconnect();
    }
    this.stream = this.input = this.worklet = null;
    hideLevel();
    return false;
  }
}

// The meter shows the microphone's level; `held`: paused while a translation speaks (its note shows).
let shownHeld = false;

export function showLevel(rms, held) {
  if (held !== shownHeld) {
    shownHeld = held;
    micNote.dataset.held = String(held);
    level.parentElement.classList.toggle("held", held);
  }
  level.style.transform = `scaleX(${Math.min(1, rms * 6).toFixed(3)})`;
}

function hideLevel() {
  level.style.transform = "scaleX(0)";
  level.parentElement.classList.remove("held");
  micNote.dataset.held = "false";
  shownHeld = false;
}
