// Sign-in: the authorization-code flow with PKCE against Cognito managed login (locally, the local
// gateway's sign-in page plays that part). Tokens live in this module's memory only: a reload or
// sign-out forgets them. Only the PKCE verifier and state survive the redirect, in sessionStorage,
// and are removed as soon as the code is exchanged.
const PENDING = "witan-console-pkce";
let config = null;
let tokens = null; // { idToken, accessToken, expiresAt, claims }
const listeners = new Set();

export function onChange(listener) {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener(tokens);
}

export function consoleUrl() {
  return new URL("./", window.location.href.split(/[?#]/)[0]).href;
}

export async function loadConfig() {
  if (!config) {
    const response = await fetch(new URL("config.json", consoleUrl()), { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    config = await response.json();
  }
  return config;
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

function decodeClaims(jwt) {
  const part = jwt.split(".")[1] || "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(decodeURIComponent(escape(json)));
}

/** Sends the browser to the managed login page with a fresh PKCE challenge. */
export async function startSignIn() {
  const settings = await loadConfig();
  if (!settings.authorizeUrl) throw new Error("sign-in is not configured on this deployment");
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, back: window.location.hash || "#/" }));
  const url = new URL(settings.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: settings.clientId,
    redirect_uri: consoleUrl(),
    scope: settings.scope || "openid",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.href);
}

/** On the callback (?code=...&state=...): exchanges the code for tokens. Returns the hash to go back to,
 * or null when this page load is not a callback. */
export async function completeSignIn() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code must not stay in the address bar or the history.
  window.history.replaceState(null, "", consoleUrl());
  if (error) throw new Error(`sign-in failed: ${params.get("error_description") || error}`);
  if (!pending || pending.state !== params.get("state")) throw new Error("sign-in failed: the state does not match");
  const settings = await loadConfig();
  const response = await fetch(settings.tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: settings.clientId,
      code,
      redirect_uri: consoleUrl(),
      code_verifier: pending.verifier,
    }).toString(),
    credentials: "omit",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || !answer.id_token) {
    throw new Error(`sign-in failed: ${answer.error_description || answer.error || response.status}`);
  }
  tokens = {
    idToken: answer.id_token,
    accessToken: answer.access_token,
    expiresAt: Date.now() + 1000 * (answer.expires_in || 3600),
    claims: decodeClaims(answer.id_token),
  };
  notify();
  return pending.back || "#/";
}

export function idToken() {
  if (tokens && Date.now() < tokens.expiresAt) return tokens.idToken;
  return null;
}

export function user() {
  if (!idToken()) return null;
  const claims = tokens.claims;
  const groups = claims["cognito:groups"] || [];
  return {
    sub: claims.sub,
    email: claims.email || claims["cognito:username"] || claims.sub,
    groups: Array.isArray(groups) ? groups : String(groups).split(","),
  };
}

/** Forgets the tokens; with managed login, also ends the Cognito session. */
export async function signOut({ expired = false } = {}) {
  const had = tokens !== null;
  tokens = null;
  notify();
  if (!had || expired) return;
  const settings = await loadConfig().catch(() => ({}));
  if (settings.logoutUrl) {
    const url = new URL(settings.logoutUrl);
    url.search = new URLSearchParams({ client_id: settings.clientId, logout_uri: consoleUrl() }).toString();
    window.location.assign(url.href);
  }
}
