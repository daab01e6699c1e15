// DPoP (RFC 9449) for the demo page: every token request and every API call carries a proof
// signed by a key that cannot leave this browser, so a copied access or refresh token is useless.
//
// The key: ECDSA P-256 (ES256) made by WebCrypto with extractable=false, so no script (this one
// included) can ever read the private half; it can only ask the browser to sign. The CryptoKey
// object itself is kept in IndexedDB (structured clone keeps it non-extractable), so a reload
// keeps using the key the refresh token is bound to. Signing out deletes it.

const DB_NAME = "demo-dpop";
const DB_STORE = "keys";
const KEY_NAME = "current";
const nonces = new Map(); // origin -> the last DPoP-Nonce a server gave (RFC 9449 §8)

let keyPromise = null;

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64json(value) {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

function withStore(mode, action) {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(DB_NAME, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(DB_STORE);
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const db = opening.result;
      const tx = db.transaction(DB_STORE, mode);
      const request = action(tx.objectStore(DB_STORE));
      tx.oncomplete = () => {
        db.close();
        resolve(request.result);
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

async function loadOrCreateKey() {
  let pair = await withStore("readonly", (store) => store.get(KEY_NAME));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    await withStore("readwrite", (store) => store.put(pair, KEY_NAME));
  }
  // A public key is always exportable; only its members go into the proof header.
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const jwk = { kty, crv, x, y };
  // RFC 7638: the required members in lexicographic order, no whitespace, SHA-256.
  const canonical = JSON.stringify({ crv, kty, x, y });
  const jkt = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
  return { privateKey: pair.privateKey, jwk, jkt };
}

function key() {
  keyPromise ??= loadOrCreateKey().catch((error) => {
    keyPromise = null;
    throw error;
  });
  return keyPromise;
}

/** The key's RFC 7638 thumbprint: `dpop_jkt` at /authorize, `cnf.jkt` in the tokens. */
export async function thumbprint() {
  return (await key()).jkt;
}

/** A fresh proof for one request; `url` loses its query and fragment (RFC 9449 §4.2). */
export async function proof(method, url, accessToken) {
  const { privateKey, jwk } = await key();
  const target = new URL(url);
  const claims = {
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
    htm: method,
    htu: `${target.origin}${target.pathname}`,
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken) {
    claims.ath = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
  }
  const nonce = nonces.get(target.origin);
  if (nonce) claims.nonce = nonce;
  const input = `${b64json({ typ: "dpop+jwt", alg: "ES256", jwk })}.${b64json(claims)}`;
  // WebCrypto's ECDSA signature is r || s, exactly the JWS ES256 form (RFC 7518 §3.4).
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, new TextEncoder().encode(input));
  return `${input}.${base64url(signature)}`;
}

/** Remembers a server's nonce; true when the response asks to retry with it. */
export function noteNonce(url, response, body) {
  const nonce = response.headers.get("DPoP-Nonce");
  if (nonce) nonces.set(new URL(url).origin, nonce);
  const challenge = response.headers.get("WWW-Authenticate") || "";
  return Boolean(nonce) && (body?.error === "use_dpop_nonce" || challenge.includes('error="use_dpop_nonce"'));
}

/** Deletes the key: after sign-out nothing bound to it is usable any more. */
export async function forgetKey() {
  keyPromise = null;
  await withStore("readwrite", (store) => store.delete(KEY_NAME));
}
