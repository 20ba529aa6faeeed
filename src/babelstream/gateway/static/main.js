// The babelstream page, wired together. Each press of Start is one run: the microphone (microphone.js)
// feeding one session on the server (session.js), whose results go to the captions (captions.js) and the
// player (player.js); the language pickers are languages.js. In a room (room.js), the others' words come on the
// same session and are shown as theirs (room-results.js). When the socket drops, the session reconnects and
// resumes by itself (session.js) and the page says so. When the server wants an access key or token,
// the page asks for one (access-form.js) and keeps it for this tab (credential.js). Plain ES modules, no
// dependencies, no network access other than this server.

import * as accessForm from "./access-form.js";
import { sharedAudioContext } from "./audio-context.js";
import * as captions from "./captions.js";
import { credential, forget } from "./credential.js";
import { endingMessage, endingStatus, micMessage, warningKind, warningMessage } from "./explanations.js";
import * as languages from "./languages.js";
import { Microphone, showLevel } from "./microphone.js";
import { clearNotices, dismiss, notify, setStatus } from "./notices.js";
import { player } from "./player.js";
import * as room from "./room.js";
import { showRoomResult } from "./room-results.js";
import { Session } from "./session.js";

const FRAME_MS = 20; // 640-byte frames, 50 a second (the server allows 200)
const CREDENTIAL_KINDS = new Set(["unauthenticated", "forbidden"]);
const RECONNECTING = "Connection lost — reconnecting… Keep talking: the page keeps your last few seconds and sends them once it is back.";

const form = document.querySelector("#controls");
const startButton = document.querySelector("#start");

let current = null; // the run in progress

class Run {
  constructor(choices) {
    this.stopping = false;
    this.ended = false;
    this.microphone = new Microphone({
      frameMs: FRAME_MS,
      onFrame: (pcm, rms) => this.onFrame(pcm, rms),
      onEnded: () => this.onMicEnded(),
    });
    // Another speaker's result in the room (it carries `speaker`); theirs are heard when this is a conversation.
    const theirs = (m, wav = null) => {
      if (!m.speaker) return false;
      showRoomResult(m, wav, { other: true, autoplay: () => choices.hearOthers });
      return true;
    };
    const session = (this.session = new Session({ ...choices, credential: credential() }, {
      onReady: (m) => {
        if (this.stopping) setStatus("finishing", "Finishing — waiting for the last translations…");
        else setStatus("live", m.room ? `Live in room ${m.room} — speak now` : "Listening — speak now");
      },
      onSegment: (m) => captions.segmentRow(session, m),
      // In a conversation the others' words also show while they speak them, on their own live row.
      onPartial: (m) => theirs(m) || captions.showPartial(session, m),
      onPartialTranslation: (m) => theirs(m) || captions.showPartialTranslation(session, m),
      onTranscript: (m) => theirs(m) || captions.showTranscript(session, m),
      onTranslation: (m) => theirs(m) || captions.showTranslation(session, m),
      onAudio: (m, wav) => {
        if (theirs(m, wav)) return;
        const slot = captions.audioSlot(session, m.segment_index, m.language);
        // Only the language picked for speech plays by itself; every clip can be replayed from its row.
        const autoplay = m.language === languages.spokenLanguage();
        player.enqueue(wav, session.number * 1e6 + m.segment_index, slot, autoplay);
      },
      onWarning: (m) => {
        const kind = warningKind(m);
        // Another speaker's sentence is marked on its own row (theirs).
        if (!theirs(m) && kind === "translation_unavailable") captions.markTranslationFailed(session, m);
        notify("warning", `${kind}:${m.target_language || m.language || ""}`, warningMessage(m), m.reason);
      },
      onAck: () => setStatus("finishing", "Finishing — waiting for the last translations…"),
      onSummary: (m) => captions.showSummary(session, m, session.synthesize),
      onAudience: (m) => room.showAudience(m),
      onSlow: () => notify("warning", "slow", "The connection is slow: captions may lag behind."),
      onReconnecting: ({ delayMs, closeCode, error }) => {
        notify("warning", "reconnecting", RECONNECTING, error ? error.reason : `connection closed (${closeCode})`);
        const seconds = Math.max(1, Math.round(delayMs / 1000));
        setStatus("connecting", `Connection lost — reconnecting in ${seconds} s…`);
      },
      onResumed: () => {
        dismiss("reconnecting");
        notify("info", "reconnected", "Reconnected: the session goes on, and what you said meanwhile is being sent.");
      },
      onEnd: (ending) => this.onEnd(ending),
    }));
  }

  async start() {
    const context = sharedAudioContext(); // created inside the click, so the browser lets it play
    setStatus("starting", "Starting the microphone…");
    context.resume().catch(() => {});
    try {
      if (!(await this.microphone.open(context))) return; // stopped meanwhile
    } catch (failure) {
      this.microphone.release();
      const name = failure && failure.name;
      notify("error", `mic-${name}`, micMessage(name), failure.message);
      this.finish("error", "Microphone unavailable");
      return;
    }
    setStatus("connecting", "Connecting to the server…");
    this.session.connect();
  }

  onFrame(pcm, rms) {
    const held = languages.holdMicWhileSpeaking() && player.speaking;
    showLevel(rms, held);
    // While translated speech plays from the loudspeaker the microphone would hear it: send silence
    // (not a gap, so the stream's timing stays true and the server does not think the client idle).
    this.session.sendAudio(held ? new ArrayBuffer(pcm.byteLength) : pcm);
  }

  onMicEnded() {
    if (this.stopping || this.ended) return;
    notify("error", "mic-ended", micMessage("ended"));
    this.stop();
  }

  async stop() {
    if (this.stopping || this.ended) return;
    this.stopping = true;
    startButton.disabled = true;
    startButton.textContent = "Stopping…";
    await this.microphone.flush();
    this.microphone.release();
    const next = this.session.finish();
    if (next === "done") setStatus("finishing", "Finishing — waiting for the last translations…");
    else if (next === "unconnected") this.finish("idle", "Stopped.");
  }

  onEnd(ending) {
    this.microphone.release();
    dismiss("reconnecting");
    if (ending.clean) {
      this.finish("idle", ending.summary ? "Finished. Press Start to speak again." : "Stopped.");
      return;
    }
    if (CREDENTIAL_KINDS.has(ending.error?.kind)) {
      // The access form says what is wrong; the key or token refused stays no longer in this tab.
      const refusal = { ...ending.error, sent: Boolean(this.session.credential) };
      if (refusal.kind === "unauthenticated") forget();
      this.finish("locked", "");
      unlock(refusal).then(() => setStatus("idle", "Key accepted. Press Start and speak."));
      return;
    }
    const code = ending.error ? ending.error.code : ending.closeCode;
    const detail = ending.error ? ending.error.reason : ending.closeReason;
    notify("error", `close-${ending.error?.kind || code}`, endingMessage(ending), detail);
    this.finish("error", endingStatus(ending));
  }

  finish(state, text) {
    if (this.ended) return;
    this.ended = true;
    this.microphone.release();
    setStatus(state, text);
    if (current === this) current = null;
    setControlsRunning(false);
  }
}

function setControlsRunning(running) {
  startButton.disabled = false;
  startButton.textContent = running ? "Stop" : "Start";
  startButton.dataset.action = running ? "stop" : "start";
  startButton.classList.toggle("running", running);
  languages.lockChoices(running);
  room.lockRoom(running);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (current) {
    current.stop();
    return;
  }
  clearNotices();
  captions.clearSummary();
  languages.saveChoices();
  current = new Run({ ...languages.choices(), ...room.roomChoice() });
  setControlsRunning(true);
  current.start();
});

window.addEventListener("pagehide", () => {
  if (current) current.session.sendDone();
});

languages.onSpokenLanguageChange((language) => {
  if (language === "off") player.stopAll();
});

// Until the server accepts a credential, the page asks for one and Start waits. `refusal` comes from
// languages.loadLanguages() or a session the server refused: {kind, reason, sent}.
async function unlock(refusal) {
  while (refusal) {
    startButton.disabled = true;
    const forbidden = refusal.kind === "forbidden";
    setStatus("locked", forbidden ? "This key or token does not allow this" : "This server needs an access key or token");
    await accessForm.ask(refusal);
    setStatus("connecting", "Checking the key…");
    refusal = await languages.loadLanguages();
  }
  accessForm.accepted();
  startButton.disabled = false;
}

await unlock(await languages.loadLanguages());
setStatus("idle", "Ready. Press Start and speak.");
