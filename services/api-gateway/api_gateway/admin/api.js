// The gateway's JSON API, with the admin token from sign-in (kept for this tab only).
const TOKEN_KEY = "outreach.token";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}.`);
    this.status = status;
    this.code = error.code || "error";
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

export function signedIn() {
  const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
  if (!saved || Date.parse(saved.expires_at) <= Date.now()) return null;
  return saved;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Revokes every token of this admin on the server (other tabs too), then forgets this one.
export async function signOutEverywhere() {
  try {
    if (signedIn()) await api("POST", "/api/auth/logout");
  } catch { /* the token is forgotten below whatever the server said */ }
  signOut();
}

export async function signIn(email, password) {
  const token = await api("POST", "/api/auth/login", { email, password }, { anonymous: true });
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(token));
  return token;
}

function authorization() {
  const saved = signedIn();
  return saved ? { Authorization: `Bearer ${saved.access_token}` } : {};
}

async function failure(response, anonymous) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON: the status says enough */ }
  if (response.status === 401 && !anonymous) {  // the session's token expired or was refused
    signOut();
    window.dispatchEvent(new CustomEvent("outreach:signed-out"));
  }
  return new ApiError(response.status, body);
}

export async function api(method, path, body, { anonymous = false } = {}) {
  const headers = anonymous ? {} : authorization();
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { error: { message: "The server cannot be reached. Check your connection." } });
  }
  if (!response.ok) throw await failure(response, anonymous);
  return response.status === 204 ? null : response.json();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// A CSV upload with progress (fetch cannot report upload progress; XMLHttpRequest can).
// `origin`: what the new prospects record of the import (note, lawful_basis); the file's name too.
export function uploadCsv(file, onProgress, tags = [], origin = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const search = new URLSearchParams();
    for (const tag of tags) search.append("tag", tag);
    if (file.name) search.append("file_name", file.name.slice(0, 255));
    for (const [name, value] of Object.entries(origin)) if (value) search.append(name, value);
    xhr.open("POST", `/api/prospects/import${search.size ? `?${search}` : ""}`);
    xhr.setRequestHeader("Content-Type", "text/csv");
    const auth = authorization();
    if (auth.Authorization) xhr.setRequestHeader("Authorization", auth.Authorization);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded, event.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { message: "The upload failed: the server cannot be reached." } }));
    xhr.send(file);
  });
}
