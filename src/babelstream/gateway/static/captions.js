// The captions: one row per sentence (what was said, and its translations underneath), kept in sentence
// order, with how long after the end of the sentence each line arrived. A row is keyed by session and
// segment, so sentences of an earlier session stay where they are. In a room, another speaker's sentences
// are keyed by its session's id (room-results.js): `session` is then {number: <its id>, targets, other}.
// While a sentence is still being spoken its row is the session's live row, showing the newest partial (the
// stable words, then the unstable tail set lighter); when the sentence is cut that same row becomes its segment's
// row and the transcript replaces the partial in place, so nothing moves. A partial translation (the stable words
// translated, when asked) fills the live row's slot for its language, set lighter, until the translation comes.

import { languageName } from "./language-names.js";

const PENDING_ROW_MS = 20_000; // a sentence row with no transcript by then held no words: remove it

const transcript = document.querySelector("#transcript");
const empty = document.querySelector("#empty");
const summary = document.querySelector("#summary");

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
  let slot = row.querySelector(`.translation-row[data-lang="${language}"]`);
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
  row.querySelector(".translations").append(slot);
  return slot;
}

// An empty sentence row: the caption line (text, latency) and the list its translations go in.
function newRow(session) {
  empty.hidden = true;
  const row = document.createElement("li");
  row.className = "utterance pending";
  row.dataset.session = String(session.number);
  if (session.other) row.classList.add("other"); // someone else in the room: the speaker page sets it apart
  const head = document.createElement("div");
  head.className = "source-line";
  const caption = document.createElement("p");
  caption.className = "caption";
  const latency = document.createElement("span");
  latency.className = "latency";
  head.append(caption, latency);
  const translations = document.createElement("ul");
  translations.className = "translations";
  row.append(head, translations);
  return row;
}

function keyedRow(session, index) {
  return transcript.querySelector(`li.utterance[data-key="${session.number}:${index}"]`);
}

// The row of one sentence; `session` gives its number and its target languages (session.js).
export function rowFor(session, index) {
  const key = `${session.number}:${index}`;
  let row = keyedRow(session, index);
  if (row) return row;
  row = newRow(session);
  row.dataset.key = key;
  row.dataset.segment = String(index);
  row.querySelector(".caption").dataset.segment = String(index);
  for (const language of session.targets) translationSlot(row, language);
  // Rows stay in sentence order even if results overtake each other, and above the sentence still being spoken.
  const later = [...transcript.querySelectorAll(`li.utterance[data-session="${session.number}"]`)].find(
    (other) => Number(other.dataset.segment) > index,
  );
  transcript.insertBefore(row, later || liveRow(session) || null);
  scrollToLatest(row);
  row.pendingTimer = setTimeout(() => {
    if (row.classList.contains("pending")) row.remove();
  }, PENDING_ROW_MS);
  return row;
}

function liveRow(session) {
  return transcript.querySelector(`li.utterance.live[data-session="${session.number}"]`);
}

// A partial: the live row of the session, made (at the end) or reused; matched to its sentence by start_ms
// (the segment index of a sentence still open may move on; docs/protocol.md).
export function showPartial(session, m) {
  let row = liveRow(session);
  if (!row) {
    row = newRow(session);
    row.classList.add("live");
    transcript.append(row);
    scrollToLatest(row);
  }
  if (row.dataset.start !== String(m.start_ms)) {
    // Another sentence in the same live row (the last one was never cut): its partial translations go too.
    for (const slot of row.querySelectorAll(".translation-row.provisional")) slot.remove();
  }
  row.dataset.start = String(m.start_ms);
  const caption = row.querySelector(".caption");
  const stable = document.createElement("span");
  stable.className = "stable";
  stable.textContent = m.stable_text;
  const unstable = document.createElement("span");
  unstable.className = "unstable";
  unstable.textContent = m.unstable_text;
  caption.replaceChildren(stable, unstable);
  if (m.language) caption.lang = m.language;
}

// A partial translation: in the live row of its sentence (same start_ms), in its language's slot, as provisional.
export function showPartialTranslation(session, m) {
  const row = liveRow(session);
  if (!row || Number(row.dataset.start) !== m.start_ms) return; // its sentence was cut meanwhile: the final comes
  for (const language of session.targets) translationSlot(row, language); // in the order the final row has them
  const slot = translationSlot(row, m.language);
  slot.classList.remove("pending");
  slot.classList.add("provisional");
  slot.querySelector(".translation").textContent = m.text.trim();
}

// The row of a segment the gateway cut: the live row when it showed this sentence, else a new one.
export function segmentRow(session, m) {
  const row = liveRow(session);
  if (row && Number(row.dataset.start) === m.start_ms) {
    row.classList.remove("live");
    row.dataset.key = `${session.number}:${m.segment_index}`;
    row.dataset.segment = String(m.segment_index);
    row.querySelector(".caption").dataset.segment = String(m.segment_index);
    for (const language of session.targets) translationSlot(row, language);
    row.pendingTimer = setTimeout(() => {
      if (row.classList.contains("pending")) row.remove();
    }, PENDING_ROW_MS);
    return row;
  }
  return rowFor(session, m.segment_index);
}

export function showTranscript(session, m) {
  // Its `segment` may never have come (its socket dropped first and the session was resumed): the sentence's
  // partial row then becomes its row, as the segment would have made it; or, if another of its results made its
  // row first (results read back after a resume come in no set order), the partial row goes.
  const row = keyedRow(session, m.segment_index) || segmentRow(session, m);
  const live = liveRow(session);
  if (live && live !== row && Number(live.dataset.start) === m.start_ms) live.remove();
  // A room's recent past, sent on arrival, is marked as earlier; a sentence already seen live stays live when
  // it comes again (a listener that reconnects gets the history again).
  if (m.history === true && row.classList.contains("pending")) row.classList.add("history");
  if (m.history === false) row.classList.remove("history");
  row.classList.remove("pending");
  const caption = row.querySelector(".caption");
  caption.textContent = m.text.trim();
  if (m.language) caption.lang = m.language;
  setLatency(row.querySelector(".source-line .latency"), m);
}

export function showTranslation(session, m) {
  const slot = translationSlot(rowFor(session, m.segment_index), m.target_language);
  slot.classList.remove("pending", "failed", "provisional");
  slot.querySelector(".translation").textContent = m.text.trim();
  showVia(slot, m.via);
  setLatency(slot.querySelector(".latency"), m);
}

// A translation made through a pivot language says so, small, beside its timing (it arrives with the text, so
// nothing moves).
function showVia(slot, via) {
  let mark = slot.querySelector(".via");
  if (!via) {
    if (mark) mark.remove();
    return;
  }
  if (!mark) {
    mark = document.createElement("span");
    mark.className = "via";
    slot.querySelector(".latency").before(mark);
  }
  mark.textContent = `via ${languageName(via)}`;
  mark.title = `Translated through ${languageName(via)}`;
}

export function markTranslationFailed(session, m) {
  if (m.segment_index === undefined || !m.target_language) return;
  const slot = translationSlot(rowFor(session, m.segment_index), m.target_language);
  slot.classList.remove("pending");
  slot.classList.add("failed");
  slot.querySelector(".translation").textContent = "(no translation)";
}

// Where a spoken translation belongs: the player puts its replay button there and marks it played.
export function audioSlot(session, index, language) {
  const slot = translationSlot(rowFor(session, index), language);
  slot.dataset.audio = "true";
  return slot;
}

export function showSummary(session, m, spoken) {
  const parts = [`${m.transcripts} sentence${m.transcripts === 1 ? "" : "s"}`, `${m.translations} translated`];
  if (spoken) parts.push(`${m.audio} spoken`);
  let text = `Last session: ${parts.join(" · ")}`;
  if (!m.complete && m.missing_segments && m.missing_segments.length) text += " (some results arrived too late)";
  summary.textContent = text;
  // Sentences that turned out to hold no words (and a partial whose sentence was never cut) are dropped from view.
  for (const row of transcript.querySelectorAll(`li.utterance.pending[data-session="${session.number}"]`)) row.remove();
}

export function clearSummary() {
  if (summary) summary.textContent = ""; // the listener page has no summary
}

document.querySelector("#clear").addEventListener("click", () => {
  for (const row of transcript.querySelectorAll("li.utterance")) row.remove();
  empty.hidden = false;
});
