// One session on /ws/audio: the socket and the protocol (docs/protocol.md), nothing on screen. It presents
// the credential, if any, as ?token= (browsers cannot set a WebSocket's headers), sends the start message,
// the audio frames and done; it hands each server message to a handler, and at the
// close says how the session ended: cleanly, or with the server's error (its code, `kind` and reason).
// In a room, the others' results come on the same socket, carrying `speaker` (their session's id).

import { base64ToBytes } from "./base64.js";

const MAX_QUEUED_MS = 10_000; // audio held while the socket opens; older audio is dropped past this
const MERGE_BYTES = 32_000; // queued audio is sent in chunks of up to 1 s (the server allows 65,536 bytes)
const CLOSE_GRACE_MS = 45_000; // after "done": the server waits up to 30 s for results, then closes
const SLOW_BUFFERED_BYTES = 1_000_000; // audio the socket could not send yet: the connection is slow

let sessionCount = 0;

// `handlers`, each optional: onReady(m), onSegment(m), onPartial(m), onPartialTranslation(m), onTranscript(m), onTranslation(m),
// onAudio(m, wavBytes), onWarning(m), onAck(m), onSummary(m), onAudience(m), onSlow(), and onEnd(ending) once, where
// ending = {clean, summary, error: {code, kind, reason} | null, closeCode, closeReason, reached}.
// `error` is the server's error message (absent when the socket closed without one); `reached`: the
// socket opened.
export class Session {
  // `credential`: the access key or token (credential.js), or null when the server needs none. `room`: the room
  // to speak into, or null; `hearOthers`: the others in the room are spoken to this session (conversation).
  // `translatePartials`: the words so far are translated while the person speaks (partial_translation).
  constructor(
    { source, targets, speech, room = null, hearOthers = false, translatePartials = false, credential = null },
    handlers,
  ) {
    this.number = ++sessionCount; // keys this session's caption rows
    this.source = source;
    this.targets = targets; // replaced by the server's list when it is ready
    this.room = room;
    this.translatePartials = translatePartials;
    // One switch on the server: it speaks this session's own translations and, in a room, the others' words.
    this.synthesize = speech !== "off" || (room !== null && hearOthers);
    this.credential = credential;
    this.handlers = handlers;
    this.socket = null;
    this.queue = [];
    this.queuedBytes = 0;
    this.opened = false;
    this.cancelled = false;
    this.doneSent = false;
    this.ended = false;
    this.serverError = null;
    this.summary = null;
    this.slowWarned = false;
  }

  connect() {
    const url = new URL("ws/audio", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (this.credential) url.searchParams.set("token", this.credential);
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.opened = true;
      socket.send(
        JSON.stringify({
          event: "start",
          mode: "live",
          sample_rate_hz: 16000,
          language: this.source,
          targets: this.targets,
          synthesize: this.synthesize,
          ...(this.translatePartials ? { translate_partials: true } : {}),
          ...(this.room ? { room: this.room } : {}),
        }),
      );
      this.sendQueued();
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => this.onClose(event);
  }

  onMessage(m) {
    if (m.status === "connected") {
      this.correlationId = m.correlation_id;
      return;
    }
    switch (m.type) {
      case "ready":
        this.targets = m.target_languages || this.targets;
        this.handle("onReady", m);
        break;
      case "segment":
        this.handle("onSegment", m);
        break;
      case "partial":
        this.handle("onPartial", m);
        break;
      case "partial_translation":
        this.handle("onPartialTranslation", m);
        break;
      case "transcript":
        this.handle("onTranscript", m);
        break;
      case "translation":
        this.handle("onTranslation", m);
        break;
      case "audio":
        this.handle("onAudio", m, base64ToBytes(m.audio_b64));
        break;
      case "warning":
        this.handle("onWarning", m);
        break;
      case "error":
        this.serverError = m; // the close follows; the session's end is reported then
        break;
      case "ack":
        this.handle("onAck", m);
        break;
      case "summary":
        this.summary = m;
        this.handle("onSummary", m);
        break;
      case "audience":
        this.handle("onAudience", m);
        break;
      default:
        break; // a newer server's message this page does not know: ignore it
    }
  }

  handle(name, ...args) {
    const handler = this.handlers[name];
    if (handler) handler(...args);
  }

  // Audio captured before the socket opens is queued (up to MAX_QUEUED_MS) and sent on open.
  sendAudio(pcm) {
    if (this.ended || this.doneSent || this.cancelled) return;
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      if (this.queue.length) this.sendQueued();
      socket.send(pcm);
      if (socket.bufferedAmount > SLOW_BUFFERED_BYTES && !this.slowWarned) {
        this.slowWarned = true;
        this.handle("onSlow");
      }
      return;
    }
    if (socket && socket.readyState !== WebSocket.CONNECTING) return;
    this.queue.push(pcm);
    this.queuedBytes += pcm.byteLength;
    while (this.queuedBytes > (16000 * 2 * MAX_QUEUED_MS) / 1000) this.queuedBytes -= this.queue.shift().byteLength;
  }

  // Audio captured while the socket was opening, merged into a few larger frames (the rate limit counts messages).
  sendQueued() {
    const frames = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    let chunk = [];
    let size = 0;
    const flush = () => {
      if (!size) return;
      const merged = new Uint8Array(size);
      let offset = 0;
      for (const frame of chunk) {
        merged.set(new Uint8Array(frame), offset);
        offset += frame.byteLength;
      }
      this.socket.send(merged.buffer);
      chunk = [];
      size = 0;
    };
    for (const frame of frames) {
      if (size + frame.byteLength > MERGE_BYTES) flush();
      chunk.push(frame);
      size += frame.byteLength;
    }
    flush();
  }

  // The person pressed Stop. Returns what happens next: "done" (sent; results and the close follow),
  // "cancelled" (the socket was still opening: it closes), "closing" (it is closing anyway) or
  // "unconnected" (there was no socket: the session is over, and onEnd is not called).
  finish() {
    const socket = this.socket;
    if (!socket) {
      this.cancelled = true;
      this.ended = true;
      return "unconnected";
    }
    if (socket.readyState === WebSocket.OPEN) {
      if (this.queue.length) this.sendQueued();
      this.sendDone();
      this.closeTimer = setTimeout(() => socket.close(1000, "no answer after done"), CLOSE_GRACE_MS);
      return "done";
    }
    if (socket.readyState === WebSocket.CONNECTING) {
      this.cancelled = true;
      socket.close(1000, "stopped before connecting");
      return "cancelled";
    }
    return "closing";
  }

  // Also used when the page goes away: the server then publishes what it has.
  sendDone() {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && !this.doneSent) {
      this.socket.send(JSON.stringify({ event: "done" }));
      this.doneSent = true;
    }
  }

  onClose(event) {
    clearTimeout(this.closeTimer);
    if (this.ended) return;
    this.ended = true;
    const ending = {
      clean: false,
      summary: this.summary,
      error: null,
      closeCode: event.code,
      closeReason: event.reason,
      reached: this.opened,
    };
    const error = this.serverError;
    const code = error ? error.code : event.code;
    if ((this.cancelled && !this.opened) || code === 1000 || (code === 1005 && this.summary)) {
      ending.clean = true;
    } else if (error) {
      ending.error = { code: error.code, kind: error.kind ?? null, reason: error.reason ?? "" };
    }
    this.handle("onEnd", ending);
  }
}
