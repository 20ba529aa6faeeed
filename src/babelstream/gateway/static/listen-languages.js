// The listener's language picker: the languages a room can be read in here (GET /api/languages), which are the
// targets of the translation pairs and the languages speech is recognised in (a speaker's own captions), as the
// server checks them (unsupported_language). The choice is remembered in localStorage.

import { fetchWithCredential, refusalOf } from "./credential.js";
import { languageLabel, languageName } from "./language-names.js";
import { notify } from "./notices.js";

const STORAGE_KEY = "babelstream.listen.v1";

const picker = document.querySelector("#lang");

// Fills the picker: `wanted` (from the link), else the last choice, else the browser's language, else the first.
// Returns null, or the server's refusal, {kind, reason, sent}, when it wants a credential (credential.js).
export async function loadLanguages(wanted) {
  let capabilities;
  try {
    const response = await fetchWithCredential("api/languages", { headers: { Accept: "application/json" } });
    const refusal = await refusalOf(response);
    if (refusal) return refusal;
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    capabilities = await response.json();
  } catch (failure) {
    notify("error", "languages", "Could not load the list of languages from the server.", String(failure));
    capabilities = { default_target_languages: ["es"] };
  }
  const byName = (a, b) => languageName(a).localeCompare(languageName(b));
  const translated = new Set(
    capabilities.pairs ? capabilities.pairs.map((pair) => pair.split("-")[1]) : capabilities.default_target_languages || [],
  );
  // A language nothing translates into is still readable when someone speaks it: the captions are in it.
  const sources = capabilities.source_languages || [capabilities.default_source_language].filter(Boolean);
  const spokenOnly = sources.filter((code) => !translated.has(code));
  picker.replaceChildren();
  const group = (label, members) => {
    if (!members.length) return;
    const element = document.createElement("optgroup");
    element.label = label;
    for (const code of members.sort(byName)) element.append(new Option(languageLabel(code), code));
    picker.append(element);
  };
  group("Translated", [...translated]);
  group("Only when someone speaks it", spokenOnly);
  const codes = [...translated, ...spokenOnly];
  const browser = (navigator.language || "").split("-")[0];
  const preferred = [wanted, saved(), browser, codes[0]].find((code) => code && codes.includes(code));
  if (preferred) picker.value = preferred;
  picker.disabled = false;
  return null;
}

export function chosenLanguage() {
  return picker.value;
}

export function saveChoice() {
  try {
    localStorage.setItem(STORAGE_KEY, picker.value);
  } catch {
    /* storage blocked: the choice is simply not remembered */
  }
}

export function onLanguageChange(listener) {
  picker.addEventListener("change", () => {
    saveChoice();
    listener(picker.value);
  });
}

function saved() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}
