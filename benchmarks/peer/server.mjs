// node-oidc-provider as the benchmark's peer: client_credentials only, RS256 JWT access
// tokens (RFC 9068 `at+jwt`) for one resource server, one process, in-memory adapter.
// Configured from the environment by benchmarks/peer_oidc_provider.py:
//   PEER_PORT, PEER_ISSUER, PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_AUDIENCE
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const { PEER_PORT, PEER_ISSUER, PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_AUDIENCE } = process.env;
const SCOPE = 'notes:read';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-1', use: 'sig', alg: 'RS256' };

const provider = new Provider(PEER_ISSUER, {
  clients: [{
    client_id: PEER_CLIENT_ID,
    client_secret: PEER_CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: SCOPE,
  }],
  jwks: { keys: [signingKey] },
  scopes: [SCOPE],
  ttl: { ClientCredentials: 600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => PEER_AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: SCOPE,
        audience: PEER_AUDIENCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(Number(PEER_PORT), '127.0.0.1', () => {
  console.log(`peer oidc-provider listening on ${PEER_ISSUER}`);
});
