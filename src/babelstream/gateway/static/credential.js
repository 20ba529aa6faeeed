// The access key or token, when the server requires one (docs/security.md): where the page keeps it and how it
// sends it. Kept in sessionStorage, not localStorage: it is a secret, and goes when the tab is closed. Sent as
// `Authorization: Bearer` on fetches and as `?token=` on the WebSocket (browsers cannot set its headers).
// Nothing here writes it to the console, and a token given in the page's address is taken out of it at once.

const STORAGE_KEY = "babelstream.credential";

let inMemory = null; // when sessionStorage is blocked: kept for this page's life only

export function credential() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || inMemory;
  } catch {
    return inMemory;
  }
}

export function remember(value) {
  inMemory = value;
  try {
    sessionStorage.setItem(STORAGE_KEY, value);
  } catch {
    /* storage blocked: kept in memory */
  }
}

export function forget() {
  inMemory = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* nothing stored */
  }
}

// fetch() with the credential, if there is one.
export function fetchWithCredential(url, options = {}) {
  const value = credential();
  if (!value) return fetch(url, options);
  return fetch(url, { ...options, headers: { ...options.headers, Authorization: `Bearer ${value}` } });
}

// A refusal for the lack of a credential, or of the right one: {kind, reason, sent}, or null for any other
// response. 401 and 403 carry the kind (docs/security.md); a 403 for another reason (`origin`) is no credential's
// fault.
export async function refusalOf(response) {
  if (response.status !== 401 && response.status !== 403) return null;
  let body = {};
  try {
    body = await response.json();
  } catch {
    /* no JSON body: the status says enough */
  }
  const kind = body.kind || (response.status === 401 ? "unauthenticated" : null);
  if (kind !== "unauthenticated" && kind !== "forbidden") return null;
  return { kind, reason: body.reason || "", sent: Boolean(credential()) };
}

// A link such as /?token=... hands this page its credential once. It is removed from the address bar (and so
// from history, bookmarks and copied links) before anything else happens.
function takeFromAddress() {
  const address = new URL(location.href);
  const value = address.searchParams.get("token");
  if (value === null) return;
  if (value.trim()) remember(value.trim());
  address.searchParams.delete("token");
  history.replaceState(history.state, "", address);
}

takeFromAddress();
