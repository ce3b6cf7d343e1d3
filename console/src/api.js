// The one way the console talks to the API: auth header, language, problem+json errors,
// refresh-token rotation on 401.
import { lang } from "./i18n.js";
import { session } from "./state.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || (status === 0 ? "network_error" : `http_${status}`);
  }

  /** True when the server answered (so a retry with a new key would be a new attempt). */
  get answered() {
    return this.status > 0 && this.status < 500;
  }
}

let refreshing = null;

async function refreshTokens() {
  const refresh = session.refreshToken;
  if (!refresh) return false;
  refreshing ??= fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Accept-Language": lang() },
    body: JSON.stringify({ refresh_token: refresh }),
  })
    .then(async (r) => {
      if (!r.ok) return false;
      session.setTokens(await r.json());
      return true;
    })
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * Call the API. `json` or `form` is the body; `headers` adds headers (Idempotency-Key).
 * Resolves to the parsed body; rejects with ApiError (status 0 when the network failed).
 */
export async function api(method, path, { json, form, multipart, headers = {}, auth = true, retried = false } = {}) {
  const h = { Accept: "application/json", "Accept-Language": lang(), ...headers };
  let body;
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  } else if (multipart !== undefined) {
    body = multipart; // a FormData: the browser writes the multipart boundary header
  }
  if (auth && session.accessToken) h.Authorization = `Bearer ${session.accessToken}`;
  let response;
  try {
    response = await fetch(path, { method, headers: h, body });
  } catch (error) {
    throw new ApiError(0, { code: "network_error", detail: String(error) });
  }
  if (response.status === 401 && auth && !retried && (await refreshTokens())) {
    return api(method, path, { json, form, multipart, headers, auth, retried: true });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && auth) session.signOut();
    throw new ApiError(response.status, data);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, json, headers) => api("POST", path, { json, headers });
export const patch = (path, json) => api("PATCH", path, { json });
export const put = (path, json) => api("PUT", path, { json });
export const del = (path) => api("DELETE", path);

/** A UUID v4 for Idempotency-Key (crypto.randomUUID needs a secure context; tablets on a LAN may not have one). */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID && globalThis.isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/**
 * Download a file the API serves behind the bearer token (a plain link would carry none):
 * fetched with the session, handed to the browser as a blob with the server's file name.
 */
export async function download(path, fallbackName) {
  const h = { "Accept-Language": lang() };
  if (session.accessToken) h.Authorization = `Bearer ${session.accessToken}`;
  let response;
  try {
    response = await fetch(path, { headers: h });
    if (response.status === 401 && (await refreshTokens())) {
      h.Authorization = `Bearer ${session.accessToken}`;
      response = await fetch(path, { headers: h });
    }
  } catch (error) {
    throw new ApiError(0, { code: "network_error", detail: String(error) });
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename\*=UTF-8''([^;]+)/i.exec(disposition) || /filename="?([^";]+)"?/i.exec(disposition);
  const name = named ? decodeURIComponent(named[1]) : fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}
