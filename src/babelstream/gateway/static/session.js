// One session on /ws/audio: the sockets and the protocol (docs/protocol.md), nothing on screen. It presents
// the credential, if any, as ?token= (browsers cannot set a WebSocket's headers), sends the start message,
// the audio frames and done; it hands each server message to a handler, and at the
// close says how the session ended: cleanly, or with the server's error (its code, `kind` and reason).
// In a room, the others' results come on the same socket, carrying `speaker` (their session's id).
//
// A session outlives its socket: when the socket drops (the network, or a gateway restarting) it opens another
// and resumes (resume.js), sending again the audio the server may not have published (unpublished-audio.js),
// which the microphone keeps filling meanwhile. A result that comes again is not handed on twice.
// Its states: connecting -> streaming -> (waiting -> resuming -> streaming)... -> ended.

import { base64ToBytes } from "./base64.js";
import { Resumer } from "./resume.js";
import { UnpublishedAudio } from "./unpublished-audio.js";

const MERGE_BYTES = 32_000; // audio held back is sent in chunks of up to 1 s (the server allows 65,536 bytes)
const CLOSE_GRACE_MS = 45_000; // after "done": the server waits up to 30 s for results, then closes
const SLOW_BUFFERED_BYTES = 1_000_000; // audio the socket could not send yet: the connection is slow
const RESULTS = new Set(["transcript", "translation", "audio", "warning"]);

let sessionCount = 0;

// `handlers`, each optional: onReady(m), onSegment(m), onPartial(m), onPartialTranslation(m), onTranscript(m), onTranslation(m),
// onAudio(m, wavBytes), onWarning(m), onAck(m), onSummary(m), onAudience(m), onSlow(), onReconnecting({delayMs,
// closeCode, error}) before each try to resume, onResumed(m) when one succeeded, and onEnd(ending) once, where
// ending = {clean, summary, error: {code, kind, reason} | null, closeCode, closeReason, reached, gaveUp}.
// `error` is the server's error message (absent when the socket closed without one); `reached`: the
// socket opened; `gaveUp`: the connection was lost and every try to resume failed.
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
    // One switch on the server: it speaks this session's own translations and, in a room, the others' words.
    this.synthesize = speech !== "off" || (room !== null && hearOthers);
    // Sent again in each resume: the server keeps none of it.
    this.start = {
      event: "start",
      mode: "live",
      sample_rate_hz: 16000,
      language: source,
      targets,
      synthesize: this.synthesize,
      ...(translatePartials ? { translate_partials: true } : {}),
      ...(room ? { room } : {}),
    };
    this.credential = credential;
    this.handlers = handlers;
    this.state = "idle";
    this.socket = null;
    this.audio = new UnpublishedAudio();
    this.resumer = new Resumer();
    this.opened = false; // a socket of this session opened
    this.cancelled = false;
    this.doneWanted = false; // Stop was pressed: done follows the audio, on whichever socket carries the session
    this.doneSent = false; // on the current socket
    this.serverError = null;
    this.summary = null;
    this.slowWarned = false;
    this.retryTimer = null;
    this.onOnline = () => {
      if (this.state === "waiting") this.resume(); // the network is back: no need to wait out the delay
    };
  }

  connect() {
    this.state = "connecting";
    window.addEventListener("online", this.onOnline);
    this.openSocket((socket) => {
      socket.send(JSON.stringify(this.start));
      this.sendUnsent(socket);
    });
  }

  // Another socket for the same session: the resume message, then every frame the server may not have published.
  resume() {
    clearTimeout(this.retryTimer);
    this.state = "resuming";
    this.openSocket((socket) => {
      const audioMs = this.audio.rewind();
      socket.send(JSON.stringify(this.resumer.message(this.start, audioMs)));
      this.sendUnsent(socket);
    });
  }

  openSocket(onOpen) {
    const url = new URL("ws/audio", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (this.credential) url.searchParams.set("token", this.credential);
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.serverError = null;
    this.doneSent = false;
    socket.onopen = () => {
      this.opened = true;
      onOpen(socket);
      if (this.doneWanted) this.sendDone();
    };
    socket.onmessage = (event) => {
      if (socket !== this.socket || typeof event.data !== "string") return;
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
      this.resumer.connected(m);
      if (this.state === "connecting") this.state = "streaming";
      return;
    }
    // A result shown already (read back after a resume) is not shown, nor played, again.
    if (RESULTS.has(m.type) && !this.resumer.firstTime(m, !m.speaker)) return;
    switch (m.type) {
      case "resumed":
        this.resumer.resumed(m);
        this.audio.confirm(m.published_ms);
        this.state = "streaming";
        this.handle("onResumed", m);
        break;
      case "ready":
        this.targets = m.target_languages || this.targets;
        this.audio.setBurstSeconds(m.limits?.max_audio_burst_seconds);
        this.handle("onReady", m);
        break;
      case "segment":
        this.audio.confirm(m.end_ms); // published: a resume need not send it again
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
        this.serverError = m; // the close follows; the session's end (or its resume) is decided then
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

  // Every frame is kept until the server publishes it (unpublished-audio.js); it goes out at once while a socket
  // carries the session, else when the next one opens.
  sendAudio(pcm) {
    if (this.state === "ended" || this.doneWanted || this.cancelled) return;
    this.audio.push(pcm);
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.sendUnsent(socket);
    if (socket.bufferedAmount > SLOW_BUFFERED_BYTES && !this.slowWarned) {
      this.slowWarned = true;
      this.handle("onSlow");
    }
  }

  // The frames not sent yet: one live frame as it is, audio held back merged into a few larger frames (the rate
  // limit counts messages).
  sendUnsent(socket) {
    const frames = this.audio.takeUnsent();
    if (frames.length === 1) {
      socket.send(frames[0]);
      return;
    }
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
      socket.send(merged.buffer);
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

  // The person pressed Stop. Returns what happens next: "done" (sent, or to be sent once the session is taken up
  // again; results and the close follow), "cancelled" (the first socket was still opening: it closes), "closing"
  // (it is closing anyway) or "unconnected" (there was no socket: the session is over, and onEnd is not called).
  finish() {
    const socket = this.socket;
    if (this.state === "ended") return "closing";
    if (this.state === "idle") {
      this.cancelled = true;
      this.state = "ended";
      return "unconnected";
    }
    if (this.state === "connecting" && socket.readyState === WebSocket.CONNECTING) {
      this.cancelled = true;
      socket.close(1000, "stopped before connecting");
      return "cancelled";
    }
    this.sendDone();
    return "done";
  }

  // Also used when the page goes away: the server then publishes what it has.
  sendDone() {
    this.doneWanted = true;
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.doneSent) return;
    socket.send(JSON.stringify({ event: "done" }));
    this.doneSent = true;
    clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(() => socket.close(1000, "no answer after done"), CLOSE_GRACE_MS);
  }

  onClose(event) {
    clearTimeout(this.closeTimer);
    if (this.state === "ended") return;
    this.socket = null;
    const error = this.serverError;
    const resumable = !this.cancelled && !this.summary && this.resumer.resumable(event.code, error);
    if (resumable && this.resumer.triesLeft) {
      const delayMs = this.resumer.nextWaitMs(error);
      this.state = "waiting";
      this.retryTimer = setTimeout(() => this.resume(), delayMs);
      this.handle("onReconnecting", { delayMs, closeCode: event.code, error });
      return;
    }
    this.state = "ended";
    window.removeEventListener("online", this.onOnline);
    const ending = {
      clean: false,
      summary: this.summary,
      error: null,
      closeCode: event.code,
      closeReason: event.reason,
      reached: this.opened,
      gaveUp: resumable,
    };
    const code = error ? error.code : event.code;
    if ((this.cancelled && !this.opened) || code === 1000 || (code === 1005 && this.summary)) {
      ending.clean = true;
    } else if (error) {
      ending.error = { code: error.code, kind: error.kind ?? null, reason: error.reason ?? "" };
    }
    this.handle("onEnd", ending);
  }
}
