// One listener on /ws/listen (docs/protocol.md, "Rooms"): the socket and the protocol, nothing on screen. It
// presents the credential, if any, as ?token=, changes the language or the voice on the open socket, and when the
// socket drops it connects again, waiting longer after each failed try, until the server refuses it for a reason
// another try would not change. Its states: connecting -> listening -> (waiting -> connecting ->) ... -> closed.

import { base64ToBytes } from "./base64.js";

// Spoken translations come as binary frames (docs/protocol.md, "Rooms"): 4 bytes, big-endian, the JSON header's
// length; the header (the audio message); the audio file, Ogg Opus (13x smaller than the WAV).
const AUDIO = "opus";
const HEADER_LENGTH_BYTES = 4;

function audioFrame(data) {
  const length = new DataView(data).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, HEADER_LENGTH_BYTES, length)));
  return { message: header, audio: data.slice(HEADER_LENGTH_BYTES + length) };
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000; // a talk goes on meanwhile: never wait longer than this to try again
const STABLE_MS = 10_000; // a socket that stayed open this long was no failed try: the waits start short again
// Refusals another try would not change (the address, the language or the credential is wrong, or the page
// broke the protocol). Any other end (a dropped network, a restarting or full server, slow_reader) is retried.
const FINAL_KINDS = new Set([
  "malformed", "unsupported_language", "origin", "unauthenticated", "forbidden", "rate", "frame_too_large",
  "protocol_error",
]);

// `handlers`, each optional: onListening(m), onResult(m, audioBytes | null) for partial, partial_translation,
// transcript, translation, audio and warning messages, onWaiting({delayMs, closeCode, error}) when it will try again, onReconnected() when a try
// after a drop succeeded, and onEnd({error, closeCode}) once, when it stops trying (not after close()).
export class RoomListener {
  // `credential`: the access key or token (credential.js), or null when the server needs none.
  constructor({ room, language, voice = true, credential = null }, handlers) {
    this.room = room;
    this.language = language;
    this.voice = voice;
    this.credential = credential;
    this.handlers = handlers;
    this.state = "closed";
    this.socket = null;
    this.failures = 0; // tries in a row that did not stay open
    this.everConnected = false;
    this.confirmed = false; // the server's first `listening` on this socket has the language wanted now
    this.retryTimer = null;
    this.onOnline = () => {
      if (this.state === "waiting") this.connectNow(); // the network is back: no need to wait out the delay
    };
  }

  connect() {
    window.addEventListener("online", this.onOnline);
    this.connectNow();
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.state = "connecting";
    this.serverError = null;
    const url = new URL("ws/listen", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("room", this.room);
    url.searchParams.set("lang", this.language);
    url.searchParams.set("voice", this.voice ? "1" : "0");
    url.searchParams.set("audio", AUDIO);
    if (this.credential) url.searchParams.set("token", this.credential);
    const socket = (this.socket = new WebSocket(url));
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      this.openedAt = performance.now();
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      if (event.data instanceof ArrayBuffer) {
        let frame;
        try {
          frame = audioFrame(event.data);
        } catch {
          return;
        }
        if (frame.message.type === "audio") this.handle("onResult", frame.message, frame.audio);
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (socket === this.socket) this.onClose(event);
    };
  }

  onMessage(m) {
    if (m.status === "connected") {
      this.state = "listening";
      this.confirmed = false;
      if (this.everConnected) this.handle("onReconnected");
      this.everConnected = true;
      return;
    }
    switch (m.type) {
      case "listening":
        if (!this.confirmed && (m.language !== this.language || m.voice !== this.voice)) {
          this.sendChange(); // changed while the socket was opening: the server answers again
          break;
        }
        this.confirmed = true;
        this.handle("onListening", m);
        break;
      case "partial":
      case "partial_translation":
      case "transcript":
      case "translation":
      case "warning":
        this.handle("onResult", m, null);
        break;
      case "audio": // a server before binary frames
        this.handle("onResult", m, base64ToBytes(m.audio_b64));
        break;
      case "error":
        this.serverError = m; // the close follows
        break;
      default:
        break; // a newer server's message this page does not know: ignore it
    }
  }

  // The listener's language or voice, now: on the open socket (the server answers `listening`), else on the next try.
  change({ language = this.language, voice = this.voice }) {
    this.language = language;
    this.voice = voice;
    if (this.state === "listening") this.sendChange();
  }

  sendChange() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ event: "listen", lang: this.language, voice: this.voice }));
    }
  }

  // The person stopped listening: no more tries.
  close() {
    this.state = "closed";
    clearTimeout(this.retryTimer);
    window.removeEventListener("online", this.onOnline);
    if (this.socket) this.socket.close(1000, "stopped listening");
    this.socket = null;
  }

  onClose(event) {
    if (this.state === "closed") return;
    this.socket = null;
    const error = this.serverError;
    if (error && FINAL_KINDS.has(error.kind)) {
      this.close();
      this.handle("onEnd", { error: { code: error.code, kind: error.kind, reason: error.reason ?? "" }, closeCode: event.code });
      return;
    }
    const stayed = this.openedAt !== undefined && performance.now() - this.openedAt >= STABLE_MS;
    this.failures = stayed ? 0 : this.failures + 1;
    this.openedAt = undefined;
    // Doubling waits, each drawn from its upper half: listeners dropped together do not all come back at once.
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, this.failures - 1));
    const delayMs = Math.round(ceiling * (0.5 + Math.random() / 2));
    this.state = "waiting";
    this.retryTimer = setTimeout(() => this.connectNow(), delayMs);
    this.handle("onWaiting", { delayMs, closeCode: event.code, error });
  }

  handle(name, ...args) {
    const handler = this.handlers[name];
    if (handler) handler(...args);
  }
}
