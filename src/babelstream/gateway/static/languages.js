// The language pickers: what this server can do (GET /api/languages), the language spoken, the languages to
// translate into (saying which go through a pivot language, and which translate poorly), the one to hear
// spoken, and the person's last choices (kept in localStorage).

import { fetchWithCredential, refusalOf } from "./credential.js";
import { languageLabel, languageName } from "./language-names.js";
import { notify } from "./notices.js";

const STORAGE_KEY = "babelstream.page.v1";

const source = document.querySelector("#source");
const targets = document.querySelector("#targets");
const targetsNote = document.querySelector("#targets-note");
const qualityBox = document.querySelector("#quality-box");
const qualityNote = document.querySelector("#quality-note");
const qualitySizer = document.querySelector("#quality-box .quality-sizer");
const speech = document.querySelector("#speech");
const holdMic = document.querySelector("#hold-mic");
const translatePartials = document.querySelector("#translate-partials");

let capabilities = null; // from /api/languages
const pairsFrom = new Map(); // source -> Set(targets); empty when the server does not say

// Fills the pickers. Returns null, or the server's refusal, {kind, reason, sent}, when it wants a credential
// (`unauthenticated`) or another one (`forbidden`): the pickers are then left as they were.
export async function loadLanguages() {
  try {
    const response = await fetchWithCredential("api/languages", { headers: { Accept: "application/json" } });
    const refusal = await refusalOf(response);
    if (refusal) return refusal;
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    capabilities = await response.json();
  } catch (failure) {
    notify("error", "languages", "Could not load the list of languages from the server.", String(failure));
    capabilities = { default_source_language: "en", default_target_languages: ["es"] };
  }
  pairsFrom.clear();
  for (const pair of capabilities.pairs || []) {
    const [from, to] = pair.split("-");
    if (!pairsFrom.has(from)) pairsFrom.set(from, new Set());
    pairsFrom.get(from).add(to);
  }
  const saved = loadChoices();
  fillSources(saved.source);
  fillTargets(saved.targets);
  fillSpeech(saved.speech);
  if (typeof saved.holdMic === "boolean") holdMic.checked = saved.holdMic;
  if (typeof saved.translatePartials === "boolean") translatePartials.checked = saved.translatePartials;
  source.disabled = false;
  return null;
}

// What the person chose, for a session's start message.
export function choices() {
  return {
    source: source.value,
    targets: checkedTargets(),
    speech: speech.value,
    translatePartials: translatePartials.checked,
  };
}

export function spokenLanguage() {
  return speech.value; // "off": no translation is spoken
}

export function holdMicWhileSpeaking() {
  return holdMic.checked;
}

// During a session the languages are fixed; only the spoken language can still change (or be switched off).
export function lockChoices(running) {
  source.disabled = running;
  for (const input of targets.querySelectorAll("input")) input.disabled = running;
  translatePartials.disabled = running;
  speech.disabled = running && speech.value === "off";
}

export function onSpokenLanguageChange(listener) {
  speech.addEventListener("change", () => listener(speech.value));
}

export function saveChoices() {
  try {
    localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({
        source: source.value,
        targets: checkedTargets(),
        speech: speech.value,
        holdMic: holdMic.checked,
        translatePartials: translatePartials.checked,
      }),
    );
  } catch {
    /* storage blocked: choices are simply not remembered */
  }
}

function loadChoices() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    return {};
  }
}

function fillSources(saved) {
  const known = capabilities.source_languages || [
    ...new Set([capabilities.default_source_language, ...pairsFrom.keys()].filter(Boolean)),
  ];
  const byName = (a, b) => languageName(a).localeCompare(languageName(b));
  const translated = known.filter((code) => pairsFrom.has(code)).sort(byName);
  const captionsOnly = known.filter((code) => !pairsFrom.has(code)).sort(byName);
  source.replaceChildren();
  const group = (label, codes) => {
    if (!codes.length) return;
    const element = document.createElement("optgroup");
    element.label = label;
    for (const code of codes) element.append(new Option(languageLabel(code), code));
    source.append(element);
  };
  if (capabilities.pairs && captionsOnly.length) {
    group("With translation", translated);
    group("Captions only", captionsOnly);
  } else {
    group("Languages", [...translated, ...captionsOnly]);
  }
  const preferred = [saved, capabilities.default_source_language, known[0]].find((code) => known.includes(code));
  if (preferred) source.value = preferred;
}

function availableTargets(from) {
  if (!capabilities.pairs) return [...(capabilities.default_target_languages || [])].filter((t) => t !== from);
  return [...(pairsFrom.get(from) || [])].sort((a, b) => languageName(a).localeCompare(languageName(b)));
}

// The path a pair takes and its measured quality ({path, engine, via, chrf, bleu, low_quality}), if the server says.
function qualityOf(from, to) {
  return (capabilities.pair_quality && capabilities.pair_quality[`${from}-${to}`]) || null;
}

function figure(value) {
  return String(Math.round(value * 10) / 10);
}

function roughMessage(from, to, quality) {
  const floor = capabilities.quality_floor;
  const under = typeof floor === "number" ? `, under ${figure(floor)}` : "";
  const measured = `measured chrF ${figure(quality.chrf)}${under}`;
  return `Translation from ${languageName(from)} to ${languageName(to)} is rough here (${measured}).`;
}

// The note under the targets says which chosen pairs translate poorly. While any offered target is rough, the
// note keeps the room its longest sentence needs (an invisible copy under it), so checking one moves nothing.
function showQuality() {
  const from = source.value;
  const message = (to) => roughMessage(from, to, qualityOf(from, to));
  const rough = availableTargets(from).filter((to) => qualityOf(from, to)?.low_quality);
  qualityNote.textContent = checkedTargets()
    .filter((to) => rough.includes(to))
    .map(message)
    .join(" ");
  qualitySizer.textContent = rough.map(message).reduce((a, b) => (b.length > a.length ? b : a), "");
  qualityBox.hidden = rough.length === 0;
}

function checkedTargets() {
  return [...targets.querySelectorAll("input[name=target]:checked")].map((input) => input.value);
}

function fillTargets(saved) {
  const from = source.value;
  const available = availableTargets(from);
  const previous = saved || checkedTargets();
  let chosen = previous.filter((code) => available.includes(code));
  if (!chosen.length) chosen = (capabilities.default_target_languages || []).filter((code) => available.includes(code));
  if (!chosen.length && available.length) chosen = [available[0]];
  targets.replaceChildren();
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
    const quality = qualityOf(from, code);
    if (quality?.via) {
      const via = document.createElement("span");
      via.className = "via";
      via.textContent = `via ${languageName(quality.via)}`;
      via.title = `Translated through ${languageName(quality.via)} (${quality.engine})`;
      label.append(" ", via);
    }
    if (quality?.low_quality) input.setAttribute("aria-describedby", "quality-note");
    targets.append(label);
  }
  targetsNote.hidden = available.length > 0;
  targetsNote.textContent = available.length
    ? ""
    : `No translation from ${languageName(from)} is installed here: you will get captions only.`;
  showQuality();
}

function fillSpeech(saved) {
  const previous = saved ?? speech.value;
  const voices = capabilities.speech_languages ? new Set(capabilities.speech_languages) : null;
  speech.replaceChildren();
  const spoken = checkedTargets().filter((code) => !voices || voices.has(code));
  for (const code of spoken) speech.append(new Option(languageName(code), code));
  speech.append(new Option("Don't speak translations", "off"));
  speech.value = spoken.includes(previous) || previous === "off" ? previous : spoken[0] || "off";
}

source.addEventListener("change", () => {
  fillTargets();
  fillSpeech();
  saveChoices();
});
targets.addEventListener("change", () => {
  showQuality();
  fillSpeech();
  saveChoices();
});
speech.addEventListener("change", saveChoices);
holdMic.addEventListener("change", saveChoices);
translatePartials.addEventListener("change", saveChoices);
