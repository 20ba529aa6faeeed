// What the page keeps to take its session up again when its socket drops (docs/protocol.md, "Resuming a
// session"): the session's id and its latest resume token, the ids of the results already shown; and when it
// tries again. The rule is the Python client's (src/babelstream/client/resume.py): a socket that died without a
// close frame (1006) or a gateway that shut down (1012, or the error kinds below) is resumed; any other end is
// final. Tries in a row are bounded, each waiting twice as long as the last.

// The server takes at most this many event ids in `received` (gateway/requests.py, MAX_RESUME_RECEIVED)...
const RECEIVED_SENT = 1500;
// ...and no text message over MAX_CHUNK_BYTES (65,536 by default): the resume lists the newest that fit under this
// (with longer ids than the server's own, fewer), and ignores an older one if the server sends its result again.
const RESUME_MESSAGE_BYTES = 60_000;
// Ids of results shown, to ignore one that comes again (a resumed session's server skips only those it was told
// of). A long talk's older ids fall off: their sentences are long gone from the speaker's view.
const SEEN_REMEMBERED = 10_000;
const RESUMABLE_CLOSES = new Set([1006, 1012]);
const RESUMABLE_KINDS = new Set(["shutdown", "pipeline_unavailable"]);
// As `babelstream stream` (clients/stream.py, RESUME_RETRIES): six tries, 0.5 s, 1 s, 2 s, 4 s, 8 s, 8 s apart.
const RETRIES = 5;
const FIRST_WAIT_MS = 500;
const MAX_WAIT_MS = 8_000;
const OWN_RESULTS = new Set(["transcript", "translation", "audio"]);

export class Resumer {
  constructor() {
    this.correlationId = null;
    this.token = null;
    this.failures = 0; // tries since the session last streamed
    this.seen = new Set(); // insertion-ordered: the oldest id first
    this.received = []; // this session's own result ids, the newest last
  }

  // The first socket's `connected`. A resuming socket's names another id, which the resume replaces.
  connected(m) {
    if (this.correlationId || !m.resume_token) return;
    this.correlationId = m.correlation_id;
    this.token = m.resume_token;
  }

  resumed(m) {
    this.correlationId = m.correlation_id;
    this.token = m.resume_token;
    this.failures = 0;
  }

  // False for a result already shown; else remembers it. `own`: this session's (not another speaker's in the room).
  firstTime(m, own) {
    const id = m.event_id;
    if (!id) return true;
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > SEEN_REMEMBERED) this.seen.delete(this.seen.values().next().value);
    if (own && OWN_RESULTS.has(m.type)) {
      this.received.push(id);
      if (this.received.length > RECEIVED_SENT) this.received.shift();
    }
    return true;
  }

  // Whether a socket that closed with `code` (and the server's `error`, if it sent one) ended in a way a resume
  // answers.
  resumable(code, error) {
    if (!this.token) return false; // the session never began on the server
    return error ? RESUMABLE_KINDS.has(error.kind) : RESUMABLE_CLOSES.has(code);
  }

  get triesLeft() {
    return this.failures <= RETRIES;
  }

  // How long to wait before the next try (counted as one). A server that said when to come back is believed.
  nextWaitMs(error) {
    const wait = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** this.failures);
    this.failures += 1;
    return Math.max(wait, error?.retry_after_ms ?? 0);
  }

  // The resume message: the start message's fields again, and where the audio sent from now on begins.
  message(start, audioMs) {
    const body = {
      ...start,
      event: "resume",
      correlation_id: this.correlationId,
      resume_token: this.token,
      audio_ms: audioMs,
      received: [],
    };
    let room = RESUME_MESSAGE_BYTES - JSON.stringify(body).length;
    let first = this.received.length;
    // Each id costs its quotes and a comma (ids and the other fields are ASCII: characters are bytes).
    while (first > 0 && room >= this.received[first - 1].length + 3) room -= this.received[--first].length + 3;
    body.received = this.received.slice(first);
    return body;
  }
}
