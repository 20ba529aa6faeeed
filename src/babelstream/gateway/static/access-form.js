// The field that asks for an access key or token, shown when the server refuses the page for the lack of one
// (kind `unauthenticated`) or because the one given does not allow this (`forbidden`). What is entered goes to
// credential.js; whether the server accepts it is for the caller to find out (main.js).

import { remember } from "./credential.js";
import { errorMessage } from "./explanations.js";

const form = document.querySelector("#access");
const input = document.querySelector("#access-token");
const submit = document.querySelector("#access-submit");
const problem = document.querySelector("#access-problem");
const problemDetail = document.querySelector("#access-problem-detail");

let answer = null; // resolves the pending ask()

// `refusal` = {kind, reason, sent}: `sent` says a credential was presented (and refused). Resolves once the
// person has entered one; the form stays up, saying "Checking…", until accepted() or the next ask().
export function ask(refusal) {
  const refused = refusal.sent || refusal.kind === "forbidden";
  problem.textContent = refused ? errorMessage({ code: 1008, kind: refusal.kind }) : "";
  problemDetail.textContent = refused && refusal.reason ? refusal.reason : "";
  submit.disabled = false;
  submit.textContent = "Use this key";
  input.value = "";
  input.setAttribute("aria-invalid", String(refused));
  form.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    answer = resolve;
  });
}

// The server took the credential: the field goes away.
export function accepted() {
  form.hidden = true;
  problem.textContent = "";
  problemDetail.textContent = "";
  input.value = "";
  answer = null;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = input.value.trim();
  if (!value || !answer) {
    input.focus();
    return;
  }
  remember(value);
  input.value = ""; // a secret stays in the field no longer than needed
  submit.disabled = true;
  submit.textContent = "Checking…";
  const resolve = answer;
  answer = null;
  resolve();
});
