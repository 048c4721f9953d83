// The REST API on the page's own origin: the console is served at /{stage}/console/, the API at /{stage}/.
import { idToken, signOut } from "./auth.js";

export const API_BASE = new URL("../", window.location.href.split(/[?#]/)[0]).href;

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail || {};
  }
}

/** Calls the API with the signed-in user's ID token; JSON in and out. */
export async function api(method, path, { body, query } = {}) {
  const url = new URL(path.replace(/^\//, ""), API_BASE);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json", Authorization: idToken() || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (response.status === 401) {
    signOut({ expired: true });
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && data.code, data && data.message, data);
  }
  return data;
}
