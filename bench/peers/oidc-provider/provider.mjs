// node provider.mjs PORT RECEIVER_BASE_PORT: panva's oidc-provider (pinned in package.json) on
// node:http at http://127.0.0.1:PORT, the peer of bench/oidc.sh. One process, storage in memory.
//
// Clients (configured here, as oidc-provider's static `clients`): bench-0 … bench-9, confidential
// (client_secret_basic, secret `bench-secret-<i>-0123456789abcdef0123456789abcdef`), redirect URI
// http://127.0.0.1:RECEIVER_BASE_PORT/cb, post-logout redirect URI …/bye, and each its own
// back-channel receiver http://127.0.0.1:(RECEIVER_BASE_PORT + i)/backchannel (with `sid`).
//
// Features on: backchannelLogout, rpInitiatedLogout, introspection, revocation, clientCredentials.
// What differs from oidc-provider's defaults, and why:
// - Storage: a plain Map adapter without eviction (MapAdapter below). The bundled development
//   adapter is an LRU of 1,000 entries: a benchmark's 200 sign-ins × 10 clients outgrow it and it
//   would start forgetting sessions and grants. Nothing is written to disk (Signoff, on SQLite with
//   an fsync per commit, does more work per write than this peer).
// - Interactions: no login form. /interaction/:uid signs the benchmark's one account in at once
//   (the benchmark does not time sign-ins), and loadExistingGrant grants the clients' scopes
//   without a consent screen (the documented way for first-party clients).
// - Refresh tokens are issued for `openid` alone (not only with offline_access + prompt=consent),
//   and rotated at every use (rotateRefreshToken: true), as Signoff does; without offline_access
//   they end with the sign-in (oidc-provider's expiresWithSession), as Signoff's do.
// - Outgoing requests (the logout tokens) go through Node's global fetch dispatcher: the built-in
//   SSRF protection refuses loopback, where the benchmark's receivers are.
// - devInteractions off; RS256 signing key generated at start.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 3961);
const receivers = Number(process.argv[3] || 3980);
const issuer = `http://127.0.0.1:${port}`;
const ACCOUNT = 'bench-account';

export const secretFor = (i) => `bench-secret-${i}-0123456789abcdef0123456789abcdef`;

const clients = Array.from({ length: 10 }, (_, i) => ({
  client_id: `bench-${i}`,
  client_secret: secretFor(i),
  redirect_uris: [`http://127.0.0.1:${receivers}/cb`],
  post_logout_redirect_uris: [`http://127.0.0.1:${receivers}/bye`],
  backchannel_logout_uri: `http://127.0.0.1:${receivers + i}/backchannel`,
  backchannel_logout_session_required: true,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid email offline_access',
}));

// The adapter: one Map per process, with expiry, and the indexes oidc-provider asks for (by grant,
// by session uid, by user code).
const store = new Map();
const byGrant = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });
    if (payload.grantId) {
      let keys = byGrant.get(payload.grantId);
      if (!keys) byGrant.set(payload.grantId, (keys = new Set()));
      keys.add(key);
    }
    if (payload.uid) store.set(`sessionUid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, { payload: id, expiresAt });
  }
  get(key) {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) { store.delete(key); return undefined; }
    return entry.payload;
  }
  async find(id) { return this.get(this.key(id)); }
  async findByUid(uid) { const id = this.get(`sessionUid:${uid}`); return id ? this.find(id) : undefined; }
  async findByUserCode(code) { const id = this.get(`userCode:${code}`); return id ? this.find(id) : undefined; }
  async consume(id) { const p = await this.find(id); if (p) p.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) {
    for (const key of byGrant.get(grantId) ?? []) store.delete(key);
    byGrant.delete(grantId);
  }
}
// Expired entries are dropped on read; sweep the rest now and then so the Map does not only grow.
setInterval(() => {
  const now = Date.now();
  for (const [k, v] of store) if (v.expiresAt <= now) store.delete(k);
}, 60_000).unref();

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients,
  jwks: { keys: [{ ...jwk, kid: 'bench-rs256', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: ['bench-only-cookie-key-0123456789abcdef'] },
  scopes: ['openid', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: 'bench@example.com', email_verified: true }),
  }),
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
  },
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email offline_access');
    await grant.save();
    return grant;
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  ttl: {
    AccessToken: 900,
    AuthorizationCode: 60,
    ClientCredentials: 900,
    IdToken: 3600,
    Grant: 14 * 24 * 3600,
    Interaction: 3600,
    RefreshToken: 30 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  // oidc-provider refuses to connect to special-use addresses (SSRF protection: a dispatcher that
  // drops such sockets), loopback included; the receivers are on loopback, so the global one.
  fetch: (url, options) => { delete options.dispatcher; return globalThis.fetch(url, options); },
  renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
});
provider.on('backchannel.error', (_ctx, err, client) => console.error(`backchannel to ${client.clientId} failed: ${err.message}`));
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  if (req.url.startsWith('/interaction/')) {
    try {
      const details = await provider.interactionDetails(req, res);
      const result = details.prompt.name === 'login'
        ? { login: { accountId: ACCOUNT } }
        : { consent: {} };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
    return;
  }
  callback(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.error(`oidc-provider peer at ${issuer}, receivers from port ${receivers}`));
process.on('SIGTERM', () => process.exit(0));
