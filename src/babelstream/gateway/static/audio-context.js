// One AudioContext for the page, shared by the microphone and the translated speech. It is created on first
// use, inside the Start click, so the browser lets it play.

let context = null;

export function sharedAudioContext() {
  if (!context) context = new AudioContext({ latencyHint: "interactive" });
  return context;
}
