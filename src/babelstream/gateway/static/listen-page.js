// The listener's page (listen.html?room=<room>), wired together: one RoomListener (listener.js) on /ws/listen, whose
// results go to the captions and the player (room-results.js); the language picker is listen-languages.js. The
// press of Listen is the one tap browsers ask for before a page plays sound. When the connection drops, the
// listener connects again by itself and the page says so; the room's recent history fills what was missed.

import * as accessForm from "./access-form.js";
import { sharedAudioContext } from "./audio-context.js";
import { credential, forget } from "./credential.js";
import { listenerErrorMessage, warningKind, warningMessage } from "./explanations.js";
import { languageName } from "./language-names.js";
import * as languages from "./listen-languages.js";
import { RoomListener } from "./listener.js";
import { clearNotices, notify, setStatus } from "./notices.js";
import { player } from "./player.js";
import { showRoomResult } from "./room-results.js";

const CREDENTIAL_KINDS = new Set(["unauthenticated", "forbidden"]);
// Why the listener waits before its next try, when the server said (listener.js retries these kinds).
const WAITING_BECAUSE = {
  capacity: "The room or the server is full",
  shutdown: "The server is restarting",
};

const form = document.querySelector("#controls");
const roomInput = document.querySelector("#room");
const voice = document.querySelector("#voice");
const button = document.querySelector("#listen");

const link = new URL(location.href).searchParams; // credential.js has already taken any token out of it
roomInput.value = link.get("room") || "";

let listener = null;

function start() {
  // Inside the tap: the browser lets this AudioContext play, now and for every clip that comes later.
  sharedAudioContext().resume().catch(() => {});
  clearNotices();
  languages.saveChoice();
  const room = roomInput.value;
  history.replaceState(history.state, "", `?room=${encodeURIComponent(room)}`); // a reload comes back here
  listener = new RoomListener(
    { room, language: languages.chosenLanguage(), voice: voice.checked, credential: credential() },
    {
      onListening: (m) => setStatus("live", `Listening to room ${m.room} in ${languageName(m.language)}`),
      onResult: (m, audio) => {
        if (m.type === "warning" && warningKind(m) !== "translation_unavailable") {
          notify("warning", `${warningKind(m)}:${m.language || m.target_language || ""}`, warningMessage(m), m.reason);
        }
        showRoomResult(m, audio, { other: false, autoplay: () => voice.checked });
      },
      onWaiting: ({ delayMs, error }) => {
        const seconds = Math.max(1, Math.round(delayMs / 1000));
        setStatus("connecting", `${WAITING_BECAUSE[error?.kind] || "Connection lost"} — trying again in ${seconds} s…`);
      },
      onReconnected: () => notify("info", "reconnected", "Reconnected: listening again. Anything said meanwhile is shown as earlier."),
      onEnd: (ending) => onEnd(ending),
    },
  );
  listener.connect();
  setStatus("connecting", "Connecting to the room…");
  setRunning(true);
}

function stop(state = "idle", text = "Stopped. Press Listen to listen again.") {
  if (listener) listener.close();
  listener = null;
  player.stopAll();
  setStatus(state, text);
  setRunning(false);
}

function onEnd({ error }) {
  if (CREDENTIAL_KINDS.has(error.kind)) {
    const refusal = { ...error, sent: Boolean(listener.credential) };
    if (refusal.kind === "unauthenticated") forget();
    stop("locked", "");
    unlock(refusal).then(() => setStatus("idle", "Key accepted. Press Listen."));
    return;
  }
  notify("error", `close-${error.kind}`, listenerErrorMessage(error, listener.language), error.reason);
  stop("error", "Stopped — see the message below");
}

function setRunning(running) {
  button.textContent = running ? "Stop listening" : "Listen";
  button.dataset.action = running ? "stop" : "listen";
  button.classList.toggle("running", running);
  roomInput.readOnly = running;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (listener) stop();
  else start();
});

languages.onLanguageChange((language) => {
  if (listener) listener.change({ language }); // from the next sentence on
});

voice.addEventListener("change", () => {
  if (!voice.checked) player.stopAll();
  if (listener) listener.change({ voice: voice.checked }); // no spoken audio is sent while it is off
});

// Until the server accepts a credential, the page asks for one and Listen waits (as on the speaker's page).
async function unlock(refusal) {
  while (refusal) {
    button.disabled = true;
    const forbidden = refusal.kind === "forbidden";
    setStatus("locked", forbidden ? "This key or token does not allow this" : "This server needs an access key or token");
    await accessForm.ask(refusal);
    setStatus("connecting", "Checking the key…");
    refusal = await languages.loadLanguages(link.get("lang"));
  }
  accessForm.accepted();
  button.disabled = false;
}

await unlock(await languages.loadLanguages(link.get("lang")));
setStatus("idle", roomInput.value ? `Room ${roomInput.value}: choose your language and press Listen.` : "Enter the room's name, then press Listen.");
