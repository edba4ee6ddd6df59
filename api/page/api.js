// The public REST API, as the dashboard calls it: same origin, the user's key as a bearer token
// (kept in session storage, so it is gone with the tab), JSON in and out. Every failure becomes an
// ApiError carrying the server's own message, so a panel can show what to do next.

const KEY = "eiq.apiKey";

export class ApiError extends Error {
  constructor(status, message, { code = "", retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    // Seconds, from Retry-After, when the server said when to come back (429, 503).
    this.retryAfter = retryAfter;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const all = { ...extra };
  const key = apiKey();
  if (key) all.Authorization = `Bearer ${key}`;
  return all;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  let code = "";
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.message === "string") {
      message = body.error.message;
      code = body.error.code || "";
    }
  } catch {
    // Not JSON (a proxy's page, say): the status line is all there is.
  }
  const retry = Number.parseInt(response.headers.get("retry-after") || "", 10);
  return new ApiError(response.status, message, { code, retryAfter: Number.isFinite(retry) ? retry : null });
}

async function send(method, path, { json, body, type, signal, extraHeaders, accept } = {}) {
  const init = { method, signal, headers: headers(extraHeaders) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
    init.headers["Content-Type"] = type || "application/octet-stream";
  }
  if (accept) init.headers.Accept = accept;
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server did not answer; check that `eiq serve` is running and reload");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/// A JSON call; the answer's JSON and its headers.
export async function call(method, path, options = {}) {
  const response = await send(method, path, options);
  const text = await response.text();
  return { body: text ? JSON.parse(text) : null, headers: response.headers };
}

export const get = async (path, options) => (await call("GET", path, options)).body;
export const post = async (path, json, options = {}) => (await call("POST", path, { ...options, json })).body;

/// POSTs `json` asking for server-sent events; `onEvent(name, data)` gets each one as it arrives.
/// A refusal before the stream starts is an ApiError, like any call.
export async function stream(path, json, onEvent, { signal } = {}) {
  const response = await send("POST", path, { json, signal, accept: "text/event-stream" });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

/// Encodes one path segment (account ids are the user's).
export const segment = (value) => encodeURIComponent(value);
