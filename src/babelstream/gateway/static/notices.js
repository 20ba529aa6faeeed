// The status line at the top of the page and the messages under the controls. What the messages say is
// decided by explanations.js; this module only shows them.

const status = document.querySelector("#status");
const statusText = document.querySelector("#status-text");
const notices = document.querySelector("#errors");

export function setStatus(state, text) {
  status.dataset.state = state;
  statusText.textContent = text;
}

// One notice per distinct key; a repeat bumps a counter instead of stacking copies.
// `level` is "error" or "warning"; `detail` (the server's own words, say) is shown small underneath.
export function notify(level, key, text, detail = "") {
  let notice = [...notices.children].find((n) => n.dataset.key === key);
  if (notice) {
    const count = Number(notice.dataset.count) + 1;
    notice.dataset.count = String(count);
    notice.querySelector(".count").textContent = ` (×${count})`;
    return notice;
  }
  notice = document.createElement("div");
  notice.className = `notice ${level}`;
  notice.dataset.key = key;
  notice.dataset.count = "1";
  const message = document.createElement("p");
  message.className = "message";
  const label = document.createElement("strong");
  label.textContent = level === "error" ? "Error: " : "Note: ";
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
  notices.append(notice);
  return notice;
}

export function dismiss(key) {
  for (const notice of [...notices.children]) if (notice.dataset.key === key) notice.remove();
}

export function clearNotices() {
  for (const notice of [...notices.children]) notice.remove();
}
