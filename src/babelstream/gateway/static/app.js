// The babelstream page: microphone -> AudioWorklet (16 kHz PCM16 frames) -> WebSocket /ws/audio, and
// captions, translations and translated speech back. Plain ES module, no dependencies, no network
// access other than this server. The wire protocol is described in docs/protocol.md.

const FRAME_MS = 20; // 640-byte frames, 50 a second (the server allows 200)
const MAX_QUEUED_MS = 10_000; // audio held while the socket opens; older audio is dropped past this
const MERGE_BYTES = 32_000; // queued audio is sent in chunks of up to 1 s (the server allows 65,536 bytes)
const CLOSE_GRACE_MS = 45_000; // after "done": the server waits up to 30 s for results, then closes
const PENDING_ROW_MS = 20_000; // a sentence row with no transcript by then held no words: remove it
const ECHO_TAIL_MS = 250; // the microphone stays held this long after a clip, for the room's echo
const STORAGE_KEY = "babelstream.page.v1";

const $ = (selector, root = document) => root.querySelector(selector);

const ui = {
  status: $("#status"),
  statusText: $("#status-text"),
  form: $("#controls"),
  source: $("#source"),
  targets: $("#targets"),
  targetsNote: $("#targets-note"),
  speech: $("#speech"),
  holdMic: $("#hold-mic"),
  start: $("#start"),
  level: $("#level-bar"),
  micNote: $("#mic-note"),
  errors: $("#errors"),
  transcript: $("#transcript"),
  empty: $("#empty"),
  summary: $("#summary"),
  played: $("#played-count"),
  clear: $("#clear"),
};

// -- language names ----------------------------------------------------------------------------------

function displayNames(locale) {
  try {
    return new Intl.DisplayNames([locale], { type: "language" });
  } catch {
    return null;
  }
}

const englishNames = displayNames("en");

function languageName(code) {
  try {
    const name = englishNames && englishNames.of(code);
    if (name && name !== code) return name;
  } catch {
    /* not a code Intl knows */
  }
  return code;
}

function languageLabel(code) {
  const english = languageName(code);
  let own = null;
  try {
    own = displayNames(code)?.of(code);
  } catch {
    own = null;
  }
  const both = own && own !== code && own.toLowerCase() !== english.toLowerCase() ? `${english} · ${own}` : english;
  return `${both} (${code})`;
}

// -- saved choices ---------------------------------------------------------------------------------------

function loadChoices() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {};
  }
}

function saveChoices() {
  try {
    localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({
        source: ui.source.value,
        targets: checkedTargets(),
        speech: ui.speech.value,
        holdMic: ui.holdMic.checked,
      }),
    );
  } catch {
    /* storage blocked: choices are simply not remembered */
  }
}

// -- status and messages -------------------------------------------------------------------------------

function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.statusText.textContent = text;
}

const CLOSE_MESSAGES = {
  1001: "The server ended the session because no audio reached it for a while. Press Start to try again.",
  1003: "The server could not accept what this page sent.",
  1007: "The server received audio it could not read (not whole 16-bit samples).",
  1008: "The server refused the session.",
  1009: "An audio message was too large for the server.",
  1011: "The server had an internal problem and could not process the audio. Try again shortly.",
  1013: "The server is full. Try again in a moment.",
};

function closeMessage(code, reason = "") {
  if (code === 1008) {
    if (/origin/i.test(reason)) return "This page's address is not allowed to use the server (Origin refused).";
    if (/rate/i.test(reason)) return "Audio was sent too fast, so the server stopped the session.";
    const limit = /longer than ([\d.]+) s/.exec(reason);
    if (limit) return `The session reached the server's time limit (${limit[1]} s). Press Start to go on.`;
  }
  if (code === 1003 && /empty stream/i.test(reason)) return "No audio reached the server before Stop.";
  if (code === 1003 && /cannot be recognised/i.test(reason)) return "The server cannot recognise speech in that language.";
  return CLOSE_MESSAGES[code] || `The connection closed unexpectedly (code ${code}).`;
}

function warningMessage(w) {
  const from = w.source_language ? languageName(w.source_language) : "this language";
  switch (w.code) {
    case "unsupported_pair":
      return `Translation from ${from} into ${languageName(w.target_language)} is not available on this server.`;
    case "translation_unavailable":
      return `A sentence could not be translated into ${languageName(w.target_language)}.`;
    case "speech_unavailable":
      return `Spoken ${languageName(w.language)} is not available, so the translation is shown but not spoken.`;
    default:
      return w.reason || "The server sent a warning.";
  }
}

const MIC_MESSAGES = {
  NotAllowedError: "Microphone blocked: allow it in the browser's site settings.",
  SecurityError: "Microphone blocked: allow it in the browser's site settings.",
  NotFoundError: "No microphone was found. Connect one and try again.",
  OverconstrainedError: "No suitable microphone was found. Connect one and try again.",
  NotReadableError: "The microphone could not be started: another app may be using it.",
  AbortError: "The microphone could not be started. Try again.",
  insecure: "The microphone only works on a secure page: open this page over https, or at http://localhost.",
  noworklet: "This browser cannot process audio here (no AudioWorklet). Use a current Chrome, Edge, Firefox or Safari over https or localhost.",
  worklet: "The page's audio processor could not be loaded from the server. Reload the page and try again.",
  ended: "The microphone stopped (unplugged, or access was withdrawn).",
};

// One notice per distinct key; a repeat bumps a counter instead of stacking copies.
function notify(kind, key, text, detail = "") {
  let notice = [...ui.errors.children].find((n) => n.dataset.key === key);
  if (notice) {
    const count = Number(notice.dataset.count) + 1;
    notice.dataset.count = String(count);
    $(".count", notice).textContent = ` (×${count})`;
    return notice;
  }
  notice = document.createElement("div");
  notice.className = `notice ${kind}`;
  notice.dataset.key = key;
  notice.dataset.count = "1";
  const message = document.createElement("p");
  message.className = "message";
  const label = document.createElement("strong");
  label.textContent = kind === "error" ? "Error: " : "Note: ";
  message.append(label, text);
  const count = document.createElement("span");
  count.className = "count";
  message.append(count);
  notice.append(message);
  if (detail && detail !== text) {
    const small = document.createElement("p");
    small.className = "detail";
    small.textContent = detail;
    notice.append(small);
  }
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "dismiss";
  dismiss.setAttribute("aria-label", "Dismiss this message");
  dismiss.textContent = "×";
  dismiss.addEventListener("click", () => notice.remove());
  notice.append(dismiss);
  ui.errors.append(notice);
  return notice;
}

// -- languages ---------------------------------------------------------------------------------------

let capabilities = null; // from /api/languages
const pairsFrom = new Map(); // source -> Set(targets); empty when the server does not say

async function loadLanguages() {
  try {
    const response = await fetch("api/languages", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    capabilities = await response.json();
  } catch (failure) {
    notify("error", "languages", "Could not load the list of languages from the server.", String(failure));
    capabilities = { default_source_language: "en", default_target_languages: ["es"] };
  }
  for (const pair of capabilities.pairs || []) {
    const [source, target] = pair.split("-");
    if (!pairsFrom.has(source)) pairsFrom.set(source, new Set());
    pairsFrom.get(source).add(target);
  }
  const saved = loadChoices();
  fillSources(saved.source);
  fillTargets(saved.targets);
  fillSpeech(saved.speech);
  if (typeof saved.holdMic === "boolean") ui.holdMic.checked = saved.holdMic;
  ui.source.disabled = false;
  ui.start.disabled = false;
  setStatus("idle", "Ready. Press Start and speak.");
}

function fillSources(saved) {
  const known = capabilities.source_languages || [
    ...new Set([capabilities.default_source_language, ...pairsFrom.keys()].filter(Boolean)),
  ];
  const byName = (a, b) => languageName(a).localeCompare(languageName(b));
  const translated = known.filter((code) => pairsFrom.has(code)).sort(byName);
  const captionsOnly = known.filter((code) => !pairsFrom.has(code)).sort(byName);
  ui.source.replaceChildren();
  const group = (label, codes) => {
    if (!codes.length) return;
    const element = document.createElement("optgroup");
    element.label = label;
    for (const code of codes) element.append(new Option(languageLabel(code), code));
    ui.source.append(element);
  };
  if (capabilities.pairs && captionsOnly.length) {
    group("With translation", translated);
    group("Captions only", captionsOnly);
  } else {
    group("Languages", [...translated, ...captionsOnly]);
  }
  const preferred = [saved, capabilities.default_source_language, known[0]].find((code) => known.includes(code));
  if (preferred) ui.source.value = preferred;
}

function availableTargets(source) {
  if (!capabilities.pairs) return [...(capabilities.default_target_languages || [])].filter((t) => t !== source);
  return [...(pairsFrom.get(source) || [])].sort((a, b) => languageName(a).localeCompare(languageName(b)));
}

function checkedTargets() {
  return [...ui.targets.querySelectorAll("input[name=target]:checked")].map((input) => input.value);
}

function fillTargets(saved) {
  const source = ui.source.value;
  const available = availableTargets(source);
  const previous = saved || checkedTargets();
  let chosen = previous.filter((code) => available.includes(code));
  if (!chosen.length) chosen = (capabilities.default_target_languages || []).filter((code) => available.includes(code));
  if (!chosen.length && available.length) chosen = [available[0]];
  ui.targets.replaceChildren();
  for (const code of available) {
    const label = document.createElement("label");
    label.className = "check";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "target";
    input.value = code;
    input.dataset.lang = code;
    input.checked = chosen.includes(code);
    label.append(input, ` ${languageLabel(code)}`);
    ui.targets.append(label);
  }
  ui.targetsNote.hidden = available.length > 0;
  ui.targetsNote.textContent = available.length
    ? ""
    : `No translation from ${languageName(source)} is installed here: you will get captions only.`;
}

function fillSpeech(saved) {
  const previous = saved ?? ui.speech.value;
  const voices = capabilities.speech_languages ? new Set(capabilities.speech_languages) : null;
  ui.speech.replaceChildren();
  const spoken = checkedTargets().filter((code) => !voices || voices.has(code));
  for (const code of spoken) ui.speech.append(new Option(languageName(code), code));
  ui.speech.append(new Option("Don't speak translations", "off"));
  ui.speech.value = spoken.includes(previous) || previous === "off" ? previous : spoken[0] || "off";
}

ui.source.addEventListener("change", () => {
  fillTargets();
  fillSpeech();
  saveChoices();
});
ui.targets.addEventListener("change", () => {
  fillSpeech();
  saveChoices();
});
ui.speech.addEventListener("change", saveChoices);
ui.holdMic.addEventListener("change", saveChoices);

// -- captions ----------------------------------------------------------------------------------------

function seconds(ms) {
  return `${(ms / 1000).toFixed(2)} s`;
}

function stageTitle(stageMs) {
  if (!stageMs) return "";
  return Object.entries(stageMs)
    .map(([stage, ms]) => `${stage} ${Math.round(ms)} ms`)
    .join(" · ");
}

function setLatency(element, message) {
  if (typeof message.latency_ms !== "number") return;
  element.textContent = seconds(message.latency_ms);
  element.title = `Time from the end of the sentence to this result. ${stageTitle(message.stage_ms)}`.trim();
}

function scrollToLatest(row) {
  const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
  if (nearBottom) row.scrollIntoView({ block: "nearest" });
}

function translationSlot(row, language) {
  let slot = $(`.translation-row[data-lang="${language}"]`, row);
  if (slot) return slot;
  slot = document.createElement("li");
  slot.className = "translation-row pending";
  slot.dataset.lang = language;
  const tag = document.createElement("abbr");
  tag.className = "lang-tag";
  tag.title = languageName(language);
  tag.textContent = language.toUpperCase();
  const text = document.createElement("span");
  text.className = "translation";
  text.dataset.lang = language;
  text.lang = language;
  const latency = document.createElement("span");
  latency.className = "latency";
  slot.append(tag, text, latency);
  $(".translations", row).append(slot);
  return slot;
}

function rowFor(session, index) {
  const key = `${session.number}:${index}`;
  let row = ui.transcript.querySelector(`li.utterance[data-key="${key}"]`);
  if (row) return row;
  ui.empty.hidden = true;
  row = document.createElement("li");
  row.className = "utterance pending";
  row.dataset.key = key;
  row.dataset.session = String(session.number);
  row.dataset.segment = String(index);
  const head = document.createElement("div");
  head.className = "source-line";
  const caption = document.createElement("p");
  caption.className = "caption";
  caption.dataset.segment = String(index);
  const latency = document.createElement("span");
  latency.className = "latency";
  head.append(caption, latency);
  const translations = document.createElement("ul");
  translations.className = "translations";
  row.append(head, translations);
  for (const language of session.targets) translationSlot(row, language);
  // Rows stay in sentence order even if results overtake each other.
  const later = [...ui.transcript.querySelectorAll(`li.utterance[data-session="${session.number}"]`)].find(
    (other) => Number(other.dataset.segment) > index,
  );
  ui.transcript.insertBefore(row, later || null);
  scrollToLatest(row);
  row.pendingTimer = setTimeout(() => {
    if (row.classList.contains("pending")) row.remove();
  }, PENDING_ROW_MS);
  return row;
}

function showTranscript(session, m) {
  const row = rowFor(session, m.segment_index);
  row.classList.remove("pending");
  const caption = $(".caption", row);
  caption.textContent = m.text.trim();
  if (m.language) caption.lang = m.language;
  setLatency($(".source-line .latency", row), m);
}

function showTranslation(session, m) {
  const row = rowFor(session, m.segment_index);
  const slot = translationSlot(row, m.target_language);
  slot.classList.remove("pending", "failed");
  $(".translation", slot).textContent = m.text.trim();
  setLatency($(".latency", slot), m);
}

function markTranslationFailed(session, m) {
  if (m.segment_index === undefined || !m.target_language) return;
  const slot = translationSlot(rowFor(session, m.segment_index), m.target_language);
  slot.classList.remove("pending");
  slot.classList.add("failed");
  $(".translation", slot).textContent = "(no translation)";
}

ui.clear.addEventListener("click", () => {
  for (const row of ui.transcript.querySelectorAll("li.utterance")) row.remove();
  ui.empty.hidden = false;
});

// -- audio: one AudioContext for the page, for the microphone and for playback ---------------------------

let audioContext = null;
let workletLoaded = null; // the processor module is added to the page's AudioContext once

function sharedAudioContext() {
  if (!audioContext) audioContext = new AudioContext({ latencyHint: "interactive" });
  return audioContext;
}

function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

// Plays translated speech one clip at a time, in sentence order, never overlapping.
class Player {
  constructor() {
    this.queue = []; // {order, buffer, slot}
    this.current = null;
    this.quietSince = 0;
    this.count = 0;
    this.pending = Promise.resolve();
  }

  get speaking() {
    return this.current !== null || performance.now() - this.quietSince < ECHO_TAIL_MS;
  }

  // Decodes in arrival order (chained); offers a replay button; auto-plays when `autoplay`.
  enqueue(wav, order, slot, autoplay) {
    this.pending = this.pending.then(async () => {
      try {
        const buffer = await sharedAudioContext().decodeAudioData(wav);
        addReplay(slot, { buffer, slot });
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
    ui.played.textContent = String(this.count);
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
}

const player = new Player();

function addReplay(slot, clip) {
  if ($(".replay", slot)) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "replay";
  button.textContent = "▶";
  button.setAttribute("aria-label", `Play the ${languageName(slot.dataset.lang)} translation again`);
  button.addEventListener("click", () => player.replay(clip));
  slot.append(button);
}

// -- one session: microphone + socket ----------------------------------------------------------------------

class MicError extends Error {
  constructor(name, detail = "") {
    super(detail);
    this.name = name;
  }
}

let sessionCount = 0;
let session = null;

class Session {
  constructor({ source, targets, speech }) {
    this.number = ++sessionCount;
    this.source = source;
    this.targets = targets;
    this.speech = speech;
    this.queue = [];
    this.queuedBytes = 0;
    this.opened = false;
    this.stopping = false;
    this.ended = false;
    this.serverError = null;
    this.slowWarned = false;
  }

  async start() {
    const context = sharedAudioContext(); // created inside the click, so the browser lets it play
    setStatus("starting", "Starting the microphone…");
    context.resume().catch(() => {});
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new MicError("insecure");
      if (!context.audioWorklet) throw new MicError("noworklet");
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: false,
      });
      if (this.ended) return this.releaseMic();
      workletLoaded =
        workletLoaded ||
        context.audioWorklet.addModule("pcm-worklet.js").catch((failure) => {
          workletLoaded = null;
          throw new MicError("worklet", String(failure));
        });
      await workletLoaded;
      if (this.ended) return this.releaseMic();
      this.input = context.createMediaStreamSource(this.stream);
      this.worklet = new AudioWorkletNode(context, "pcm-framer", {
        numberOfInputs: 1,
        numberOfOutputs: 1, // connected to the output (silently) so every browser keeps pulling it
        channelCountMode: "explicit",
        channelCount: 1,
        processorOptions: { frameMs: FRAME_MS },
      });
      this.worklet.port.onmessage = (event) => this.onWorklet(event.data);
      this.input.connect(this.worklet);
      this.worklet.connect(context.destination);
      for (const track of this.stream.getAudioTracks()) {
        track.addEventListener("ended", () => {
          if (!this.stopping && !this.ended) {
            notify("error", "mic-ended", MIC_MESSAGES.ended);
            this.stop();
          }
        });
      }
    } catch (failure) {
      this.releaseMic();
      const name = failure && failure.name;
      notify("error", `mic-${name}`, MIC_MESSAGES[name] || "The microphone could not be started.", failure.message);
      this.finish("error", "Microphone unavailable");
      return;
    }
    this.connect();
  }

  connect() {
    setStatus("connecting", "Connecting to the server…");
    const url = new URL("ws/audio", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
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
          synthesize: this.speech !== "off",
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
        if (!this.stopping) setStatus("live", "Listening — speak now");
        break;
      case "segment":
        rowFor(this, m.segment_index);
        break;
      case "transcript":
        showTranscript(this, m);
        break;
      case "translation":
        showTranslation(this, m);
        break;
      case "audio":
        this.onAudio(m);
        break;
      case "warning":
        if (m.code === "translation_unavailable") markTranslationFailed(this, m);
        notify("warning", `${m.code}:${m.target_language || m.language || ""}`, warningMessage(m), m.reason);
        break;
      case "error":
        this.serverError = m;
        break;
      case "ack":
        setStatus("finishing", "Finishing — waiting for the last translations…");
        break;
      case "summary":
        this.summary = m;
        this.showSummary(m);
        break;
      default:
        break; // a newer server's message this page does not know: ignore it
    }
  }

  onAudio(m) {
    const slot = translationSlot(rowFor(this, m.segment_index), m.language);
    slot.dataset.audio = "true";
    // Only the language picked for speech plays by itself; every clip can be replayed from its row.
    const autoplay = m.language === ui.speech.value;
    player.enqueue(base64ToBytes(m.audio_b64), this.number * 1e6 + m.segment_index, slot, autoplay);
  }

  showSummary(m) {
    const parts = [`${m.transcripts} sentence${m.transcripts === 1 ? "" : "s"}`, `${m.translations} translated`];
    if (this.speech !== "off") parts.push(`${m.audio} spoken`);
    let text = `Last session: ${parts.join(" · ")}`;
    if (!m.complete && m.missing_segments && m.missing_segments.length) text += " (some results arrived too late)";
    ui.summary.textContent = text;
    // Sentences that turned out to hold no words are dropped from view.
    for (const row of ui.transcript.querySelectorAll(`li.utterance.pending[data-session="${this.number}"]`)) row.remove();
  }

  onWorklet(message) {
    if (message.type === "flushed") {
      if (this.flushed) this.flushed();
      return;
    }
    if (message.type !== "frame") return;
    const held = ui.holdMic.checked && player.speaking;
    if (held !== this.held) {
      this.held = held;
      ui.micNote.dataset.held = String(held);
      ui.level.parentElement.classList.toggle("held", held);
    }
    ui.level.style.transform = `scaleX(${Math.min(1, message.rms * 6).toFixed(3)})`;
    // While translated speech plays from the loudspeaker the microphone would hear it: send silence
    // (not a gap, so the stream's timing stays true and the server does not think the client idle).
    this.sendAudio(held ? new ArrayBuffer(message.pcm.byteLength) : message.pcm);
  }

  sendAudio(pcm) {
    if (this.ended || this.doneSent) return;
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      if (this.queue.length) this.sendQueued();
      socket.send(pcm);
      if (socket.bufferedAmount > 1_000_000 && !this.slowWarned) {
        this.slowWarned = true;
        notify("warning", "slow", "The connection is slow: captions may lag behind.");
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

  async stop() {
    if (this.stopping || this.ended) return;
    this.stopping = true;
    ui.start.disabled = true;
    ui.start.textContent = "Stopping…";
    if (this.worklet) {
      // The last partial frame, so the final words are not cut off.
      await Promise.race([
        new Promise((resolve) => {
          this.flushed = resolve;
          this.worklet.port.postMessage({ type: "flush" });
        }),
        new Promise((resolve) => setTimeout(resolve, 300)),
      ]);
    }
    this.releaseMic();
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      if (this.queue.length) this.sendQueued();
      socket.send(JSON.stringify({ event: "done" }));
      this.doneSent = true;
      setStatus("finishing", "Finishing — waiting for the last translations…");
      this.closeTimer = setTimeout(() => socket.close(1000, "no answer after done"), CLOSE_GRACE_MS);
    } else if (socket && socket.readyState === WebSocket.CONNECTING) {
      socket.close(1000, "stopped before connecting");
    } else if (!socket) {
      this.finish("idle", "Stopped.");
    }
  }

  releaseMic() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    if (this.input) this.input.disconnect();
    if (this.worklet) {
      this.worklet.port.onmessage = null;
      this.worklet.disconnect();
    }
    this.stream = this.input = this.worklet = null;
    ui.level.style.transform = "scaleX(0)";
    ui.level.parentElement.classList.remove("held");
    ui.micNote.dataset.held = "false";
    this.held = false;
  }

  onClose(event) {
    clearTimeout(this.closeTimer);
    this.releaseMic();
    if (this.stopping && !this.opened) {
      this.finish("idle", "Stopped.");
      return;
    }
    const error = this.serverError;
    const code = error ? error.code : event.code;
    if (code === 1000 || (code === 1005 && this.summary)) {
      this.finish("idle", this.summary ? "Finished. Press Start to speak again." : "Stopped.");
      return;
    }
    let text;
    if (error) text = closeMessage(code, error.reason);
    else if (!this.opened) text = "Could not reach the server. Check that it is running, then try again.";
    else text = event.code === 1006 ? "Lost the connection to the server." : closeMessage(event.code, event.reason);
    notify("error", `close-${code}`, text, error ? error.reason : event.reason);
    const short = code === 1013 ? "Server full — try again in a moment" : "Stopped — see the message below";
    this.finish("error", short);
  }

  finish(state, text) {
    if (this.ended) return;
    this.ended = true;
    this.releaseMic();
    setStatus(state, text);
    if (session === this) session = null;
    setControlsRunning(false);
  }
}

function setControlsRunning(running) {
  ui.start.disabled = false;
  ui.start.textContent = running ? "Stop" : "Start";
  ui.start.dataset.action = running ? "stop" : "start";
  ui.start.classList.toggle("running", running);
  ui.source.disabled = running;
  for (const input of ui.targets.querySelectorAll("input")) input.disabled = running;
  ui.speech.disabled = running && ui.speech.value === "off";
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (session) {
    session.stop();
    return;
  }
  for (const notice of [...ui.errors.children]) notice.remove();
  ui.summary.textContent = "";
  saveChoices();
  session = new Session({ source: ui.source.value, targets: checkedTargets(), speech: ui.speech.value });
  setControlsRunning(true);
  session.start();
});

window.addEventListener("pagehide", () => {
  if (session && session.socket && session.socket.readyState === WebSocket.OPEN) {
    session.socket.send(JSON.stringify({ event: "done" }));
  }
});

ui.speech.addEventListener("change", () => {
  if (ui.speech.value === "off") player.stopAll();
});

loadLanguages();
