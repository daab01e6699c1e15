// DPoP (RFC 9449) as oauth4webapi does it, against our token service and the notes API,
// one step per invocation (driven by tests/guides/test_dpop_clients.py). Configuration
// from the environment: ISSUER, CLIENT_ID, CLIENT_SECRET (empty for a public client),
// API_URL, and for the code flow REDIRECT_URI and SCOPE. Results are one JSON line.
//
//   node dpop.mjs client-credentials
//     -> {"token_type", "jkt", "created", "notes"}
//   node dpop.mjs authorize-url
//     -> {"url", "code_verifier", "state", "nonce", "private_jwk"}   (url binds the code with dpop_jkt)
//   node dpop.mjs exchange <callback-url> <code_verifier> <nonce> <state> <private_jwk>
//     -> {"token_type", "jkt", "userinfo", "notes", "refreshed_token_type", "notes_after_refresh", "refresh_token"}
import * as oauth from "oauth4webapi";

const env = (name) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const issuer = new URL(env("ISSUER"));
const insecure = issuer.protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};
const client = { client_id: env("CLIENT_ID") };
const secret = process.env.CLIENT_SECRET;
const clientAuth = secret ? oauth.ClientSecretBasic(secret) : oauth.None();
const api = new URL(env("API_URL"));

async function discover() {
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure });
  return oauth.processDiscoveryResponse(issuer, response);
}

// A server may ask for a nonce at any time (RFC 9449 §8): the handle remembers it, retry once.
async function withNonceRetry(request) {
  try {
    return await request();
  } catch (error) {
    if (oauth.isDPoPNonceError(error)) return request();
    throw error;
  }
}

async function callApi(accessToken, DPoP, method, path, body) {
  const headers = new Headers(body ? { "content-type": "application/json" } : {});
  const response = await withNonceRetry(() =>
    oauth.protectedResourceRequest(accessToken, method, new URL(path, api), headers, body ? JSON.stringify(body) : undefined, { DPoP, ...insecure }),
  );
  return { status: response.status, body: await response.json() };
}

async function clientCredentials() {
  const as = await discover();
  // Non-extractable by default: the private key cannot leave WebCrypto.
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const tokens = await withNonceRetry(async () =>
    oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, clientAuth, { scope: "notes:read notes:write" }, { DPoP, ...insecure }),
    ),
  );
  const created = await callApi(tokens.access_token, DPoP, "POST", "/notes", { text: "from oauth4webapi with DPoP" });
  const notes = await callApi(tokens.access_token, DPoP, "GET", "/notes");
  return { token_type: tokens.token_type, jkt: await DPoP.calculateThumbprint(), access_token: tokens.access_token, created, notes };
}

async function authorizeUrl() {
  const as = await discover();
  // Extractable only so the next invocation (another process) can sign with the same key.
  const keyPair = await oauth.generateKeyPair("ES256", { extractable: true });
  const DPoP = oauth.DPoP(client, keyPair);
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: env("REDIRECT_URI"),
    response_type: "code",
    scope: env("SCOPE"),
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    dpop_jkt: await DPoP.calculateThumbprint(), // RFC 9449 §10: the code is bound to this key
  }).toString();
  const privateJwk = await crypto.subtle.exportKey("jwk", keyPair.privateKey);
  return { url: url.href, code_verifier: codeVerifier, state, nonce, private_jwk: JSON.stringify(privateJwk) };
}

async function importKeyPair(privateJwkText) {
  const jwk = JSON.parse(privateJwkText);
  const algorithm = { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await crypto.subtle.importKey("jwk", jwk, algorithm, false, ["sign"]);
  const { d, ...publicJwk } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", { ...publicJwk, key_ops: ["verify"] }, algorithm, true, ["verify"]);
  return { privateKey, publicKey };
}

async function exchange(callbackUrl, codeVerifier, nonce, state, privateJwk) {
  const as = await discover();
  const DPoP = oauth.DPoP(client, await importKeyPair(privateJwk));
  const params = oauth.validateAuthResponse(as, client, new URL(callbackUrl), state);
  const tokens = await withNonceRetry(async () =>
    oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, env("REDIRECT_URI"), codeVerifier, { DPoP, ...insecure }),
      { expectedNonce: nonce, requireIdToken: true },
    ),
  );
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const userinfo = await oauth.processUserInfoResponse(
    as,
    client,
    claims.sub,
    await withNonceRetry(() => oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure })),
  );
  const notes = await callApi(tokens.access_token, DPoP, "GET", "/notes");
  const refreshed = await withNonceRetry(async () =>
    oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { DPoP, ...insecure }),
    ),
  );
  const notesAfterRefresh = await callApi(refreshed.access_token, DPoP, "GET", "/notes");
  return {
    token_type: tokens.token_type,
    jkt: await DPoP.calculateThumbprint(),
    access_token: tokens.access_token,
    userinfo,
    notes,
    refreshed_token_type: refreshed.token_type,
    notes_after_refresh: notesAfterRefresh,
    refresh_token: refreshed.refresh_token,
  };
}

const [command, ...args] = process.argv.slice(2);
const steps = { "client-credentials": clientCredentials, "authorize-url": authorizeUrl, exchange };
if (!steps[command]) {
  console.error("usage: node dpop.mjs client-credentials | authorize-url | exchange <callback-url> <code_verifier> <nonce> <state> <private_jwk>");
  process.exit(2);
}
try {
  console.log(JSON.stringify(await steps[command](...args)));
} catch (error) {
  const oauthError = error.error ? ` ${error.error}: ${error.error_description ?? ""}` : "";
  console.error(`${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}${oauthError}`);
  process.exit(1);
}
