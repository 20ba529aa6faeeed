// The speaker's room (docs/protocol.md, "Rooms"): whether this talk goes into a room and which, the links to
// share (listen.html?room=<room> for listeners; for a conversation, this page with the room filled in), and who
// listens, from the server's `audience` messages. The room's name is remembered in localStorage, so a reload
// speaks into the same room and the links already given still work.

import { languageName } from "./language-names.js";

const STORAGE_KEY = "babelstream.room.v1";
const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/; // as the server checks it (gateway/rooms/room_id.py)

const enabled = document.querySelector("#room-on");
const details = document.querySelector("#room-details");
const roomInput = document.querySelector("#room-id");
const conversation = document.querySelector("#conversation");
const panel = document.querySelector("#room-panel");
const shareLink = document.querySelector("#share-link");
const copyButton = document.querySelector("#copy-link");
const inviteRow = document.querySelector("#invite-row");
const inviteLink = document.querySelector("#invite-link");
const audienceCount = document.querySelector("#audience-count");
const audienceText = document.querySelector("#audience-text");

// What the start message needs: {room: <id> | null, hearOthers}.
export function roomChoice() {
  if (!enabled.checked) return { room: null, hearOthers: false };
  return { room: roomInput.value, hearOthers: conversation.checked };
}

// During a session the room is fixed.
export function lockRoom(running) {
  enabled.disabled = running;
  roomInput.readOnly = running;
  conversation.disabled = running;
  if (running) {
    audienceCount.textContent = "…";
    audienceText.textContent = "people listening.";
  }
}

// An `audience` message: how many listen, in which languages (every gateway counted). A session in a room gets
// one within a second of joining it; until then (and between sessions) the count is not known.
export function showAudience(m) {
  audienceCount.textContent = String(m.listeners);
  const languages = Object.entries(m.languages)
    .map(([code, count]) => `${languageName(code)} ${count}`)
    .join(" · ");
  const others = m.speakers > 1 ? ` ${m.speakers - 1} other speaker${m.speakers === 2 ? "" : "s"} in the room.` : "";
  const people = m.listeners === 1 ? "person" : "people";
  audienceText.textContent = `${people} listening${languages ? `: ${languages}` : ""}.${others}`;
}

function newRoomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `room-${[...bytes].map((b) => "abcdefghjkmnpqrstuvwxyz23456789"[b % 31]).join("")}`;
}

function listenAddress(room) {
  const url = new URL("listen.html", location.href); // resolved without this page's query or fragment
  url.searchParams.set("room", room);
  return url.href;
}

// For the other person in a conversation: this page, in the same room, conversation on.
function inviteAddress(room) {
  const url = new URL(location.href);
  url.search = "";
  url.hash = "";
  url.searchParams.set("room", room);
  url.searchParams.set("conversation", "1");
  return url.href;
}

function show() {
  const valid = ROOM_ID.test(roomInput.value);
  details.hidden = !enabled.checked;
  roomInput.disabled = !enabled.checked; // a disabled field is not checked when Start submits the form
  panel.hidden = !enabled.checked || !valid;
  inviteRow.hidden = !conversation.checked;
  if (!valid) return;
  shareLink.href = shareLink.textContent = listenAddress(roomInput.value);
  inviteLink.href = inviteLink.textContent = inviteAddress(roomInput.value);
}

function save() {
  try {
    localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({ on: enabled.checked, room: roomInput.value, conversation: conversation.checked }),
    );
  } catch {
    /* storage blocked: the room is simply not remembered */
  }
}

function load() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY)) || {};
  } catch {
    saved = {};
  }
  // An invitation (?room=...&conversation=1) wins over what this browser did last time.
  const link = new URL(location.href).searchParams;
  const invited = link.get("room");
  if (invited !== null && ROOM_ID.test(invited)) {
    saved = { on: true, room: invited, conversation: link.get("conversation") === "1" };
  }
  enabled.checked = Boolean(saved.on);
  roomInput.value = typeof saved.room === "string" && ROOM_ID.test(saved.room) ? saved.room : newRoomId();
  conversation.checked = Boolean(saved.conversation);
}

async function copy() {
  try {
    await navigator.clipboard.writeText(shareLink.href);
    copyButton.textContent = "Copied";
  } catch {
    // No clipboard here (a page over plain http on another machine): select the link for the person to copy.
    getSelection().selectAllChildren(shareLink);
    copyButton.textContent = "Selected: copy it";
  }
  setTimeout(() => {
    copyButton.textContent = "Copy link";
  }, 2500);
}

for (const input of [enabled, roomInput, conversation]) {
  input.addEventListener("input", () => {
    show();
    save();
  });
}
copyButton.addEventListener("click", copy);
load();
show();
