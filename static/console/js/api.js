// The JSON API with the console's session: CSRF header on writes, the error envelope as ApiError.

export class ApiError extends Error {
  constructor(status, code, message, fields = null, envelope = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.envelope = envelope || {}; // the error's other keys (an import's rejected lines, a hit's briefing)
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export async function api(method, path, body, { headers = {}, raw = false } = {}) {
  const url = path.startsWith("http") || path.startsWith("/") ? path : `/api/v1/${path}`;
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (!SAFE.has(method)) init.headers["X-CSRFToken"] = cookie("csrftoken");
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined && body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, "network", "The server could not be reached. Check the connection; nothing was changed by this attempt unless it shows up after reconnecting.");
  }
  if (raw) return response;
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!response.ok) {
    const envelope = data && data.error;
    if (response.status === 401) {
      throw new ApiError(401, envelope?.code || "not_authenticated", "Your session has ended: sign in again (reload the page).");
    }
    if (envelope) throw new ApiError(response.status, envelope.code, envelope.message, envelope.fields || null, envelope);
    throw new ApiError(response.status, "http_error", `The server answered ${response.status} ${response.statusText}.`);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body, opts) => api("POST", path, body ?? {}, opts);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path, body) => api("DELETE", path, body);

// Every page of a paginated list ({count, next, previous, results}); a plain list is returned as is.
export async function getAll(path, { limit = 20000 } = {}) {
  let data = await get(path);
  if (Array.isArray(data)) return data;
  const out = [...(data.results || [])];
  while (data.next && out.length < limit) {
    const next = new URL(data.next, location.href);
    data = await get(next.pathname + next.search);
    out.push(...(data.results || []));
  }
  return out;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
