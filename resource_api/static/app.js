// The demo page's OAuth client: authorization code + PKCE S256 (RFC 7636), the `iss` check of
// RFC 9207, silent refresh with rotating refresh tokens, and RP-initiated logout.
//
// Where tokens live, and why: the access token only in memory (a variable), so nothing that
// outlives this page holds a credential the API accepts. The refresh token and the ID token (the
// logout hint) are in sessionStorage: scoped to this origin and this tab, gone when the tab
// closes, and enough to stay signed in across a reload without a trip to the login page.
// localStorage would outlive the browser session and be shared by every tab; an HttpOnly cookie
// would need a backend-for-frontend this demo does not have. What keeps other scripts from
// reading sessionStorage is the page's CSP (scripts only from this origin); what bounds a stolen
// refresh token is rotation: each is good once, and a reused one revokes its whole family.
//
// And every token is DPoP-bound (RFC 9449, see dpop.js): the token service binds the code, the
// access tokens and the refresh tokens to a key the browser will not let anyone read, and every
// request carries a proof signed with it. A token copied out of this page is refused everywhere.

import { forgetKey, noteNonce, proof, thumbprint } from "./dpop.js";

const SCOPES = "openid profile email offline_access notes:read notes:write";
const STORE = {
  pending: "demo.pending", // {state, nonce, verifier} between the redirect out and the callback
  refresh: "demo.refresh_token",
  idToken: "demo.id_token",
};

let config; // {issuer, client_id, api_url} from the resource API
let metadata; // the issuer's discovery document
let accessToken = null;
let refreshTimer = null;
let refreshing = null;

const $ = (id) => document.getElementById(id);

class OAuthError extends Error {
  constructor(code, description) {
    super(description ? `${code}: ${description}` : code);
    this.code = code;
  }
}

// ---- encoding and PKCE --------------------------------------------------------------

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(length = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

async function s256(text) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function jwtClaims(token) {
  const segment = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(segment.padEnd(segment.length + ((4 - (segment.length % 4)) % 4), "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

function redirectUri() {
  // The page is its own redirect URI; the token service must have exactly this registered.
  return `${location.origin}/`;
}

// ---- talking to the token service --------------------------------------------------

async function discover() {
  const response = await fetch("/demo-config.json");
  if (!response.ok) throw new Error(`/demo-config.json answered ${response.status}`);
  config = await response.json();
  const found = await fetch(`${config.issuer}/.well-known/openid-configuration`);
  if (!found.ok) throw new Error(`discovery at ${config.issuer} answered ${found.status}`);
  metadata = await found.json();
  // OpenID Connect Discovery §4.3: the document must name the issuer we asked.
  if (metadata.issuer !== config.issuer) {
    throw new Error(`discovery names issuer ${metadata.issuer}, expected ${config.issuer}`);
  }
}

async function tokenRequest(fields, retried = false) {
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", DPoP: await proof("POST", metadata.token_endpoint) },
    body: new URLSearchParams(fields),
  });
  const body = await response.json().catch(() => ({}));
  // RFC 9449 §8: a server that wants nonces says so once; retry with the one it gave.
  if (noteNonce(metadata.token_endpoint, response, body) && !retried) return tokenRequest(fields, true);
  if (!response.ok) throw new OAuthError(body.error || `HTTP ${response.status}`, body.error_description);
  return body;
}

async function signIn() {
  const pending = { state: randomString(), nonce: randomString(), verifier: randomString(48) };
  sessionStorage.setItem(STORE.pending, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: SCOPES,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: "S256",
    // RFC 9449 §10: the code can only be redeemed with a proof by this browser's key.
    dpop_jkt: await thumbprint(),
  });
  location.assign(`${metadata.authorization_endpoint}?${params}`);
}

async function handleCallback(params) {
  const pending = JSON.parse(sessionStorage.getItem(STORE.pending) || "null");
  sessionStorage.removeItem(STORE.pending);
  // The code must not stay in the address bar, the history or a bookmark.
  history.replaceState(null, "", "/");
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("this sign-in response does not belong to a sign-in started here (state mismatch); sign in again");
  }
  // RFC 9207: the response says which server sent it, so a mix-up with another issuer shows.
  if (params.get("iss") !== metadata.issuer && (metadata.authorization_response_iss_parameter_supported || params.has("iss"))) {
    throw new Error(`the sign-in response came from ${params.get("iss") || "an unnamed issuer"}, expected ${metadata.issuer}`);
  }
  if (params.has("error")) throw new OAuthError(params.get("error"), params.get("error_description"));
  const tokens = await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    client_id: config.client_id,
    code_verifier: pending.verifier,
  });
  // The ID token came straight from the token endpoint we called (OIDC Core §3.1.3.7), so its
  // claims are checked rather than its signature; the API verifies the access token for real.
  const claims = jwtClaims(tokens.id_token);
  const audiences = [].concat(claims.aud);
  if (claims.iss !== metadata.issuer || !audiences.includes(config.client_id) || claims.nonce !== pending.nonce) {
    throw new Error("the ID token is not for this sign-in (iss, aud or nonce differ)");
  }
  keep(tokens);
}

function keep(tokens) {
  accessToken = tokens.access_token;
  if (tokens.refresh_token) sessionStorage.setItem(STORE.refresh, tokens.refresh_token);
  if (tokens.id_token) sessionStorage.setItem(STORE.idToken, tokens.id_token);
  clearTimeout(refreshTimer);
  if (tokens.expires_in && sessionStorage.getItem(STORE.refresh)) {
    // A minute early (or at 80% of a short lifetime), so no request carries an expiring token.
    const seconds = Math.max(5, Math.min(tokens.expires_in - 60, tokens.expires_in * 0.8));
    refreshTimer = setTimeout(() => refresh().catch(showProblem), seconds * 1000);
  }
}

function forget() {
  accessToken = null;
  clearTimeout(refreshTimer);
  for (const key of Object.values(STORE)) sessionStorage.removeItem(key);
}

function refresh() {
  // One refresh at a time: each refresh token is good once, so two parallel uses would look
  // like a stolen token being replayed and end the whole sign-in.
  refreshing ??= (async () => {
    const token = sessionStorage.getItem(STORE.refresh);
    if (!token) throw new OAuthError("login_required", "no refresh token; sign in again");
    try {
      keep(await tokenRequest({ grant_type: "refresh_token", refresh_token: token, client_id: config.client_id }));
    } catch (error) {
      // invalid_dpop_proof: the key the refresh token is bound to is gone (site data cleared).
      if (error.code === "invalid_grant" || error.code === "invalid_dpop_proof") {
        forget();
        showSignedOut();
      }
      throw error;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function signOut() {
  const idToken = sessionStorage.getItem(STORE.idToken);
  const refreshToken = sessionStorage.getItem(STORE.refresh);
  forget();
  await forgetKey().catch(() => undefined);
  if (refreshToken && metadata.revocation_endpoint) {
    // RFC 7009; best effort: signing out must not fail because revocation did.
    await fetch(metadata.revocation_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: "refresh_token", client_id: config.client_id }),
    }).catch(() => undefined);
  }
  // OpenID Connect RP-Initiated Logout 1.0: end the session at the issuer, then come back here.
  const params = new URLSearchParams({ client_id: config.client_id, post_logout_redirect_uri: redirectUri() });
  if (idToken) params.set("id_token_hint", idToken);
  location.assign(`${metadata.end_session_endpoint}?${params}`);
}

// ---- talking to the resource API ---------------------------------------------------

async function api(path, options = {}, retried = false) {
  if (!accessToken) await refresh();
  // htu is the API's public URL as configured there, which is what it checks proofs against.
  const dpop = await proof(options.method || "GET", new URL(path, config.api_url).href, accessToken);
  const response = await fetch(path, {
    ...options,
    headers: { ...options.headers, Authorization: `DPoP ${accessToken}`, DPoP: dpop },
  });
  // Once: the token may have expired (or its key rotated) since the last refresh.
  if (response.status === 401 && !retried) {
    await refresh();
    return api(path, options, true);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new OAuthError(body.error || `HTTP ${response.status}`, body.error_description);
  return body;
}

// ---- the page ----------------------------------------------------------------------

function showProblem(error) {
  $("error").textContent = `Something went wrong: ${error.message}`;
  $("error").hidden = false;
}

function showSignedOut() {
  $("status").textContent = "";
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
}

function renderNotes(notes) {
  const list = $("notes");
  list.replaceChildren(
    ...notes.map((note) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.textContent = note.text;
      const when = document.createElement("time");
      when.dateTime = note.created_at;
      when.textContent = new Date(note.created_at).toLocaleString();
      item.append(text, when);
      return item;
    }),
  );
  $("no-notes").hidden = notes.length > 0;
}

async function showSignedIn() {
  const [me, notes] = await Promise.all([api("/me"), api("/notes")]);
  const idToken = sessionStorage.getItem(STORE.idToken);
  const profile = idToken ? jwtClaims(idToken) : {};
  $("who").textContent = profile.name || profile.preferred_username || me.email || me.sub;
  const binding = me.dpop_jkt ? `DPoP-bound to this browser's key ${me.dpop_jkt}` : "bearer (not sender-constrained)";
  const rows = [["sub", me.sub], ["email", me.email], ["client_id", me.client_id], ["scope", me.scope], ["token", binding]];
  $("claims").replaceChildren(
    ...rows
      .filter(([, value]) => value)
      .flatMap(([name, value]) => {
        const term = document.createElement("dt");
        term.textContent = name;
        const detail = document.createElement("dd");
        detail.textContent = value;
        return [term, detail];
      }),
  );
  renderNotes(notes);
  $("status").textContent = "";
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
}

async function addNote(event) {
  event.preventDefault();
  const input = $("note-text");
  const text = input.value.trim();
  if (!text) return;
  await api("/notes", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text }) });
  input.value = "";
  renderNotes(await api("/notes"));
}

async function start() {
  $("sign-in").addEventListener("click", () => signIn().catch(showProblem));
  $("sign-out").addEventListener("click", () => signOut().catch(showProblem));
  $("note-form").addEventListener("submit", (event) => addNote(event).catch(showProblem));
  await discover();
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    await handleCallback(params);
  } else if (location.search) {
    history.replaceState(null, "", "/");
  }
  if (!accessToken && !sessionStorage.getItem(STORE.refresh)) {
    showSignedOut();
    return;
  }
  await showSignedIn();
}

start().catch((error) => {
  showProblem(error);
  if (!accessToken) showSignedOut();
});
