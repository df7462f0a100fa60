import { PromoteError } from '../../errors.ts';
import { lookupCredentials, type Credential, type CredentialLookup, type CredentialOptions } from './credentials.ts';
import { discard, readText, type Transport } from './transport.ts';

// Registry authentication as docker, skopeo and oras do it: send anonymously first; on a 401,
// read the WWW-Authenticate challenge (RFC 7235) and answer it — Basic with the credentials, or
// Bearer with a token from the realm (distribution docs/spec/auth/token.md), one token per
// scope set, cached until shortly before it expires. After the first challenge the scheme is
// known and later requests carry credentials up front (no extra round trip per request).

export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate value, which may hold several comma-separated challenges. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipSpace = () => { while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++; };
  const readToken = () => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < s.length) {
    skipSpace();
    if (s[i] === ',') { i++; continue; }
    const token = readToken();
    if (!token) { i++; continue; }
    skipSpace();
    if (s[i] === '=' && current) {
      i++;
      skipSpace();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        value = readToken();
      }
      current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

export function repositoryScope(repository: string, actions: 'pull' | 'push'): string {
  return `repository:${repository}:${actions === 'push' ? 'pull,push' : 'pull'}`;
}

/** `repository:a:push,pull` + `repository:a:pull` → `repository:a:pull,push`. */
export function mergeScopes(scopes: string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const one of scope.split(' ').filter(Boolean)) {
      const last = one.lastIndexOf(':');
      if (last < 0) continue;
      const resource = one.slice(0, last);
      const set = byResource.get(resource) ?? new Set<string>();
      for (const a of one.slice(last + 1).split(',')) if (a) set.add(a);
      byResource.set(resource, set);
    }
  }
  return [...byResource.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, a]) => `${r}:${[...a].sort().join(',')}`);
}

interface CachedToken { token: string; expiresAt: number }

export class Authenticator {
  private readonly transport: Transport;
  private readonly host: string;
  private readonly credentialOptions: CredentialOptions;
  private scheme: 'unknown' | 'basic' | 'bearer' = 'unknown';
  private bearer: { realm: string; service?: string } | undefined;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private lookup: Promise<CredentialLookup> | undefined;

  constructor(transport: Transport, host: string, credentialOptions: CredentialOptions) {
    this.transport = transport;
    this.host = host;
    this.credentialOptions = credentialOptions;
  }

  private credentials(): Promise<CredentialLookup> {
    this.lookup ??= lookupCredentials(this.host, this.credentialOptions);
    return this.lookup;
  }

  /** The Authorization header for a request needing `scopes`, if the registry asked for auth. */
  async authorization(scopes: string[]): Promise<string | undefined> {
    if (this.scheme === 'basic') {
      const { credential, tried } = await this.credentials();
      if (!credential?.username) throw this.unauthorized(undefined, tried, 'no credentials were found');
      return `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
    }
    if (this.scheme === 'bearer') {
      // An access token is the registry's token already: no token server is asked.
      const { credential } = await this.credentials();
      if (credential?.accessToken) return `Bearer ${credential.accessToken}`;
      return `Bearer ${(await this.token(mergeScopes(scopes))).token}`;
    }
    return undefined;
  }

  /**
   * Learns from a 401. Returns true when the request should be sent again with new credentials,
   * false when it is pointless (the caller then reports the 401).
   */
  async onUnauthorized(header: string | undefined, scopes: string[], hadAuthorization: boolean): Promise<boolean> {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer?.params.error === 'insufficient_scope') return false;
    if (bearer?.params.realm) {
      // A refused access token stays refused: there is no other to try.
      if (hadAuthorization && this.scheme === 'bearer' && (await this.credentials()).credential?.accessToken) return false;
      this.scheme = 'bearer';
      this.bearer = { realm: bearer.params.realm, ...(bearer.params.service !== undefined && { service: bearer.params.service }) };
      // A token we sent was refused (expired or revoked early): the next request fetches anew.
      if (hadAuthorization) this.tokens.delete(mergeScopes(scopes).join(' '));
      return true;
    }
    if (basic) {
      this.scheme = 'basic';
      return !hadAuthorization;
    }
    return false;
  }

  private token(scopes: string[]): Promise<CachedToken> {
    const key = scopes.join(' ');
    const cached = this.tokens.get(key);
    if (cached) {
      return cached.then((t) => {
        if (t.expiresAt > Date.now()) return t;
        this.tokens.delete(key);
        return this.token(scopes);
      });
    }
    const pending = this.fetchToken(scopes);
    this.tokens.set(key, pending);
    pending.catch(() => this.tokens.delete(key));
    return pending;
  }

  private async fetchToken(scopes: string[]): Promise<CachedToken> {
    const { realm, service } = this.bearer!;
    const { credential, tried } = await this.credentials();
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new PromoteError('REGISTRY_AUTH_FAILED', `the registry at ${this.host} named an invalid token realm "${realm}"`, {
        hint: 'the registry\'s auth.token.realm setting is wrong; tell its administrator',
      });
    }
    // The registry is reached over verified TLS; its token realm must be too, or the password (or
    // refresh token) would cross the network in clear text to whoever answers on the path.
    if (credential && !this.transport.insecure && url.protocol !== 'https:') {
      throw new PromoteError('REGISTRY_AUTH_INSECURE_REALM', `the registry at ${this.host} sends logins to ${url.origin}, which is not HTTPS: credentials (from ${credential.source}) were not sent`, {
        hint: 'the registry\'s auth.token.realm must be an https:// URL; tell its administrator (--insecure allows it, for test registries only)',
        details: { registry: this.host, realm: url.origin },
      });
    }
    let res;
    if (credential?.identityToken) {
      // OAuth2 refresh-token grant (distribution docs/spec/auth/oauth.md), what `docker login` stores.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.identityToken, client_id: 'promote' });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.transport.send({ method: 'POST', url: url.href, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), retry: true });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (credential?.username) headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password ?? ''}`).toString('base64')}`;
      res = await this.transport.send({ method: 'GET', url: url.href, headers });
    }
    if (res.status === 401 || res.status === 403) {
      await discard(res.body);
      throw this.unauthorized(credential, tried, credential ? 'the token server refused the credentials' : 'the registry needs credentials and none were found');
    }
    const text = await readText(res.body, 1024 * 1024);
    if (res.status !== 200) {
      throw new PromoteError('REGISTRY_AUTH_FAILED', `the token server ${url.origin} for ${this.host} answered ${res.status}`, {
        hint: 'the registry\'s token service is failing; retry later',
        details: { status: res.status },
      });
    }
    let body: { token?: string; access_token?: string; expires_in?: number };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = {};
    }
    const token = body.token ?? body.access_token;
    if (!token) {
      throw new PromoteError('REGISTRY_AUTH_FAILED', `the token server ${url.origin} for ${this.host} returned no token`, {
        hint: 'the registry\'s token service is misconfigured; tell its administrator',
      });
    }
    // The spec's default lifetime is 60 s; renew 10 s early so a request never carries a stale one.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + Math.max(lifetime - 10, 1) * 1000 };
  }

  /** The 401 a user sees: which registry, what was tried (sources, never secrets), what to do. */
  unauthorized(credential: Credential | undefined, tried: string[], why: string): PromoteError {
    const message = credential
      ? `authentication to ${this.host} failed: ${why} (credentials from ${credential.source})`
      : `authentication to ${this.host} failed: ${why}; tried ${tried.join(', ')}`;
    return new PromoteError('REGISTRY_UNAUTHORIZED', message, {
      hint: credential
        ? 'check the username and password (or token); renew them with `docker login` or fix PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD'
        : `set PROMOTE_REGISTRY_USERNAME and PROMOTE_REGISTRY_PASSWORD, or run \`docker login ${this.host}\``,
      details: { registry: this.host, credentialSource: credential?.source ?? null, tried },
    });
  }

  async unauthorizedFor(why: string): Promise<PromoteError> {
    const { credential, tried } = await this.credentials();
    return this.unauthorized(credential, tried, why);
  }
}
