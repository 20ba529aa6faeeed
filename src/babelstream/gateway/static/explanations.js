// What the page tells a person, in its own words: why a session ended, what a warning means, why the
// microphone could not start.

import { languageName } from "./language-names.js";

// Errors: the session ends, with a close code.
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

// How a session that did not end cleanly is explained: `ending` comes from Session (session.js).
export function endingMessage(ending) {
  if (ending.error) return closeMessage(ending.error.code, ending.error.reason);
  if (!ending.reached) return "Could not reach the server. Check that it is running, then try again.";
  if (ending.closeCode === 1006) return "Lost the connection to the server.";
  return closeMessage(ending.closeCode, ending.closeReason);
}

// The short form, in the status line at the top.
export function endingStatus(ending) {
  const code = ending.error ? ending.error.code : ending.closeCode;
  return code === 1013 ? "Server full — try again in a moment" : "Stopped — see the message below";
}

// Warnings: the session goes on.
export function warningMessage(warning) {
  const from = warning.source_language ? languageName(warning.source_language) : "this language";
  switch (warning.code) {
    case "unsupported_pair":
      return `Translation from ${from} into ${languageName(warning.target_language)} is not available on this server.`;
    case "translation_unavailable":
      return `A sentence could not be translated into ${languageName(warning.target_language)}.`;
    case "speech_unavailable":
      return `Spoken ${languageName(warning.language)} is not available, so the translation is shown but not spoken.`;
    default:
      return warning.reason || "The server sent a warning.";
  }
}

// Microphone failures, by the DOMException's name (or the page's own names, microphone.js).
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

export function micMessage(name) {
  return (name && Object.hasOwn(MIC_MESSAGES, name) && MIC_MESSAGES[name]) || "The microphone could not be started.";
}
