// The OpenID Connect steps Auth.js performs for a Next.js app, done with oauth4webapi
// (the library Auth.js is built on), one step per invocation so a test can drive the
// login page in between. Configuration from the environment: ISSUER, CLIENT_ID,
// CLIENT_KEY_FILE (private_key_jwt: the private JWK from `token-service clients keygen`)
// or CLIENT_SECRET, REDIRECT_URI, SCOPE. Every result is printed as one JSON line.
//
//   node flow.mjs authorize-url
//     -> {"url", "code_verifier", "state", "nonce"}
//   node flow.mjs exchange <callback-url> <code_verifier> <nonce> <state>
//     -> {"access_token", "id_token_claims", "userinfo", "refreshed_access_token", ...}
import * as oauth from "oauth4webapi";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const issuer = new URL(env("ISSUER"));
// The tests run the token service on http://127.0.0.1; oauth4webapi refuses plain
// http unless told, which is what keeps production on https.
const insecure = issuer.protocol === "http:" ? { [oauth.allowInsecureRequests]: true } : {};
const client = { client_id: env("CLIENT_ID") };

// The key variant (the guide's first choice): the app proves itself with a private key,
// so no secret is shared with the token service. The secret variant is the fallback.
async function clientAuthentication() {
  if (!process.env.CLIENT_KEY_FILE) return oauth.ClientSecretBasic(env("CLIENT_SECRET"));
  const { readFile } = await import("node:fs/promises");
  const jwk = JSON.parse(await readFile(process.env.CLIENT_KEY_FILE, "utf8"));
  const algorithm = { ES256: { name: "ECDSA", namedCurve: "P-256" }, RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } }[jwk.alg];
  if (!algorithm) throw new Error(`CLIENT_KEY_FILE: unsupported alg ${jwk.alg}; generate the key with --alg ES256 or RS256`);
  const key = await crypto.subtle.importKey("jwk", jwk, algorithm, false, ["sign"]);
  // As Auth.js does for private_key_jwt: the assertion's audience names the issuer and the token endpoint.
  return oauth.PrivateKeyJwt({ key, kid: jwk.kid }, {
    [oauth.modifyAssertion](_header, payload) {
      payload.aud = [issuer.href.replace(/\/$/, ""), new URL("/token", issuer).href];
    },
  });
}
const clientAuth = await clientAuthentication();
const redirectUri = env("REDIRECT_URI");

async function discover() {
  const response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure });
  // Checks that the document's `issuer` is exactly ISSUER.
  return oauth.processDiscoveryResponse(issuer, response);
}

async function authorizeUrl() {
  const as = await discover();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: env("SCOPE"),
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  }).toString();
  return { url: url.href, code_verifier: codeVerifier, state, nonce };
}

async function exchange(callbackUrl, codeVerifier, nonce, state) {
  const as = await discover();
  // state must match; `iss` in the response must be this issuer (RFC 9207), which
  // stops a code from another provider being replayed here.
  const params = oauth.validateAuthResponse(as, client, new URL(callbackUrl), state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, insecure);
  // Verifies the ID token: signature by the issuer's JWKS, iss, aud, exp, nonce.
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const userinfo = await oauth.processUserInfoResponse(
    as,
    client,
    claims.sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
  );
  const refreshed = await oauth.processRefreshTokenResponse(
    as,
    client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, insecure),
  );
  return {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    scope: tokens.scope,
    id_token: tokens.id_token,
    id_token_claims: claims,
    userinfo,
    refreshed_access_token: refreshed.access_token,
    refresh_token_rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
  };
}

const [command, ...args] = process.argv.slice(2);
const steps = { "authorize-url": authorizeUrl, exchange };
if (!steps[command]) {
  console.error(`usage: node flow.mjs authorize-url | exchange <callback-url> <code_verifier> <nonce> <state>`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await steps[command](...args)));
} catch (error) {
  // ResponseBodyError carries the server's OAuth error code; show it, it is what to act on.
  const oauthError = error.error ? ` ${error.error}: ${error.error_description ?? ""}` : "";
  console.error(`${error.name}: ${error.message}${error.code ? ` (${error.code})` : ""}${oauthError}`);
  process.exit(1);
}
