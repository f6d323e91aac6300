// A real OpenID provider for the tests: node's oidc-provider on 127.0.0.1, on a port the OS
// picks. `node oidc_provider.mjs <config.json>` reads the clients, the accounts (id -> claims)
// and the signing keys (a private JWKS the test made, so a test can also sign tokens of its
// own with the provider's key), then prints "PORT <n>" once it listens. Its built-in
// development pages (devInteractions) sign in with any account id as the login and any
// password, and ask for consent: a browser test goes through them as a person would.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const server = http.createServer();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: config.clients,
    jwks: config.jwks,
    cookies: { keys: ['sightline-test-provider-cookies'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    pkce: { required: () => true },
    ttl: { IdToken: config.id_token_seconds ?? 3600 },
    async findAccount(ctx, id) {
      const claims = config.accounts[id];
      if (!claims) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
  });
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  server.on('request', provider.callback());
  console.log(`PORT ${port}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
