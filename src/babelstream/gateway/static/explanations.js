// What the page tells a person, in its own words: why a session ended (by the error's `kind`), what a
// warning means (by its `kind`), why the microphone could not start. The server's `reason` is English for
// people and may be reworded at any time, so nothing here reads it: it is only shown, small, underneath.
// The kinds are listed in docs/protocol.md (src/babelstream/gateway/errors.py, `Kind`).

import { languageName } from "./language-names.js";

// Errors: the session ends. A kind this page does not know yet falls back to the close code's meaning.
export const ERROR_MESSAGES = {
  origin: "This page's address is not allowed to use the server (Origin refused).",
  unauthenticated: "The server did not accept that access key or token.",
  forbidden: "That access key or token does not allow this. Ask for one that does.",
  capacity: "The server is full. Try again in a moment.",
  malformed: "The server could not accept what this page sent.",
  unsupported_language: "The server cannot recognise speech in that language.",
  empty_stream: "No audio reached the server before Stop.",
  not_whole_samples: "The server received audio it could not read (not whole 16-bit samples).",
  protocol_error: "The server could not read this browser's connection (a WebSocket protocol error).",
  rate: "Audio was sent too fast, so the server stopped the session.",
  frame_too_large: "An audio message was too large for the server.",
  buffer_full: "The session held more audio than the server accepts at once.",
  session_too_long: "The session reached the server's time limit. Press Start to go on.",
  idle: "The server ended the session because no audio reached it for a while. Press Start to try again.",
  slow_reader: "This device fell too far behind the room, so the server let it go.",
  publish_failed: "The server could not pass the audio on for processing. Try again shortly.",
  shutdown: "The server is restarting. Press Start to connect again.",
  resume_refused: "The connection dropped, and the server would not take the session up again (it may have restarted). Press Start to begin a new one.",
  internal: "The server had an internal problem and ended the session. Try again shortly.",
};

// The close codes' meanings (RFC 6455 and docs/protocol.md), for an error without a kind this page knows.
const CLOSE_MESSAGES = {
  1001: "The server ended the session. Press Start to try again.",
  1002: "The server could not read this browser's connection (a WebSocket protocol error).",
  1003: "The server could not accept what this page sent.",
  1007: "The server could not read what this page sent.",
  1008: "The server refused the session.",
  1009: "This page sent more than the server accepts.",
  1011: "The server had a problem and ended the session. Try again shortly.",
  1012: "The server is restarting. Press Start to connect again.",
  1013: "The server cannot take the session right now. Try again in a moment.",
};

export function errorMessage({ code, kind }) {
  if (kind && Object.hasOwn(ERROR_MESSAGES, kind)) return ERROR_MESSAGES[kind];
  return CLOSE_MESSAGES[code] || `The connection closed unexpectedly (code ${code}).`;
}

// How a session that did not end cleanly is explained: `ending` comes from Session (session.js).
export function endingMessage(ending) {
  if (ending.error) return errorMessage(ending.error);
  if (ending.gaveUp) return "Lost the connection to the server, and could not reconnect. Press Start to begin again.";
  if (!ending.reached) return "Could not reach the server. Check that it is running, then try again.";
  if (ending.closeCode === 1006) return "Lost the connection to the server.";
  return errorMessage({ code: ending.closeCode, kind: null });
}

// A listener (/ws/listen) refused: the same kinds, some meaning something else for a listener.
export function listenerErrorMessage(error, language) {
  if (error.kind === "unsupported_language") return `This server cannot give the room in ${languageName(language)}.`;
  if (error.kind === "malformed") return "The server could not accept this room's name or language.";
  return errorMessage(error);
}

// The short form, in the status line at the top.
export function endingStatus(ending) {
  return ending.error?.kind === "capacity" ? "Server full — try again in a moment" : "Stopped — see the message below";
}

// Warnings: the session goes on. Servers before `kind` sent the same value as `code`.
export function warningKind(warning) {
  return warning.kind ?? warning.code;
}

export function warningMessage(warning) {
  const from = warning.source_language ? languageName(warning.source_language) : "this language";
  switch (warningKind(warning)) {
    case "unsupported_pair":
      return `Translation from ${from} into ${languageName(warning.target_language)} is not available on this server.`;
    case "translation_unavailable":
      return `A sentence could not be translated into ${languageName(warning.target_language)}.`;
    case "speech_unavailable":
      return `Spoken ${languageName(warning.language)} is not available, so the translation is shown but not spoken.`;
    case "audio_skipped":
      return "The connection is not keeping up: some spoken translations were skipped (the text still comes).";
    case "audio_lost":
      return `While the connection was down, ${lostSeconds(warning)} of what you said could not be kept, so it was not translated.`;
    default:
      return warning.reason || "The server sent a warning.";
  }
}

function lostSeconds({ start_ms: start, end_ms: end }) {
  if (typeof start !== "number" || typeof end !== "number") return "some";
  const seconds = Math.max(0.1, (end - start) / 1000);
  return `${seconds.toFixed(1)} s`;
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
