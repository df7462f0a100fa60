import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PromoteError } from '../../errors.ts';

// Where registry credentials come from: a list of sources (oras-go's CredentialFunc), asked in
// order, the first credential wins (credentialSources below):
//   1. explicit options (--username/--password or library callers),
//   2. PROMOTE_REGISTRY_USERNAME / PROMOTE_REGISTRY_PASSWORD,
//   3. the docker CLI config ($DOCKER_CONFIG/config.json or ~/.docker/config.json):
//      credHelpers[host], then credsStore, then auths[host] (base64 `auth`, username/password,
//      identitytoken, registrytoken) — the order docker itself uses (docker/cli cli/config/configfile).
// A new source is one function in this file and one entry in that list. Looked up lazily, only
// when a registry asks for credentials, so a credential helper is never run for anonymous
// registries. Secrets never appear in messages: `tried` only names sources.

/**
 * A registry login (oras-go auth.Credential): a username and password (HTTP Basic, or sent to the
 * token server), a refresh token (docker's "identitytoken", exchanged at the token server), or an
 * access token (docker's "registrytoken": sent to the registry as the Bearer token itself).
 */
export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token from `docker login` against a token server (docker "identitytoken"). */
  identityToken?: string;
  /** A registry access token, sent as `Authorization: Bearer` without asking a token server. */
  accessToken?: string;
  /** Where it came from, for messages (never the secret). */
  source: string;
}

export interface CredentialLookup {
  credential?: Credential;
  /** Every source consulted, in order, with why it gave nothing — for a 401's message. */
  tried: string[];
}

/**
 * One place credentials may come from: the credential for `host` (a normalised docker config
 * key), or none with what was consulted and why it gave nothing.
 */
export type CredentialSource = (host: string) => Promise<CredentialLookup>;

export interface CredentialOptions {
  username?: string;
  password?: string;
  dockerConfig?: string;
  env?: NodeJS.ProcessEnv;
  /** Replaces the sources credentialSources(options) would ask (library callers). */
  sources?: CredentialSource[];
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** docker keys its config by "https://index.docker.io/v1/", "host", "https://host/path"…: compare hosts. */
export function normaliseConfigKey(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  k = k.toLowerCase();
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? 'docker.io' : k;
}

export function dockerConfigPath(options: CredentialOptions): string {
  if (options.dockerConfig) return options.dockerConfig;
  const env = options.env ?? process.env;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME || homedir(), '.docker', 'config.json');
}

function decodeAuth(auth: string, where: string): { username: string; password: string } {
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new PromoteError('CREDENTIALS_INVALID', `the "auth" entry in ${where} is not base64 of "username:password"`, {
      outcome: 'usage',
      hint: 'run `docker login <host>` again, or remove the entry and set PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD',
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Runs `docker-credential-<helper> get` (docker-credential-helpers protocol: host on stdin, JSON out). */
export async function runCredentialHelper(helper: string, host: string, env: NodeJS.ProcessEnv): Promise<{ credential?: Credential; why: string }> {
  const program = `docker-credential-${helper}`;
  const serverUrl = host === 'docker.io' ? 'https://index.docker.io/v1/' : host;
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ why: e.code === 'ENOENT' ? `${program} is not installed` : `${program} failed to start: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        const msg = (out + err).trim().split('\n')[0] ?? '';
        resolve({ why: /not found/i.test(msg) ? `${program} has no credentials for ${host}` : `${program} exited ${code}${msg ? `: ${msg.slice(0, 120)}` : ''}` });
        return;
      }
      try {
        const parsed = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!parsed.Secret) {
          resolve({ why: `${program} returned no secret for ${host}` });
        } else if (parsed.Username === '<token>') {
          resolve({ credential: { identityToken: parsed.Secret, source: program }, why: '' });
        } else {
          resolve({ credential: { username: parsed.Username ?? '', password: parsed.Secret, source: program }, why: '' });
        }
      } catch {
        resolve({ why: `${program} printed something other than JSON` });
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(serverUrl);
  });
}

/** --username/--password (or a library caller's username and password). */
function explicitOptions(options: CredentialOptions): CredentialSource {
  return async () => {
    if (options.username === undefined && options.password === undefined) return { tried: [] };
    if (!options.username || options.password === undefined) {
      throw new PromoteError('CREDENTIALS_INCOMPLETE', 'a registry username was given without a password, or a password without a username', {
        outcome: 'usage',
        hint: 'give both --username and --password (or PROMOTE_REGISTRY_USERNAME and PROMOTE_REGISTRY_PASSWORD)',
      });
    }
    return { credential: { username: options.username, password: options.password, source: 'the --username/--password options' }, tried: ['the --username/--password options'] };
  };
}

function environmentVariables(env: NodeJS.ProcessEnv): CredentialSource {
  return async () => {
    const envUser = env.PROMOTE_REGISTRY_USERNAME;
    const envPass = env.PROMOTE_REGISTRY_PASSWORD;
    if (envUser && envPass !== undefined) {
      return { credential: { username: envUser, password: envPass, source: 'PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD' }, tried: ['PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD'] };
    }
    return { tried: [envUser ? 'PROMOTE_REGISTRY_USERNAME (PROMOTE_REGISTRY_PASSWORD is not set)' : 'PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD (not set)'] };
  };
}

/** docker's config.json: credHelpers[host], then credsStore, then auths[host]. */
function dockerConfigFile(path: string, env: NodeJS.ProcessEnv): CredentialSource {
  return async (wanted) => {
    const tried: string[] = [];
    let config: DockerConfig;
    try {
      config = JSON.parse(await readFile(path, 'utf8')) as DockerConfig;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { tried: [code === 'ENOENT' ? `${path} (does not exist)` : `${path} (unreadable: ${code ?? 'not valid JSON'})`] };
    }

    const helperEntry = Object.entries(config.credHelpers ?? {}).find(([k]) => normaliseConfigKey(k) === wanted);
    const helpers = [helperEntry?.[1], config.credsStore].filter((h): h is string => typeof h === 'string' && h.length > 0);
    for (const helper of helpers) {
      const { credential, why } = await runCredentialHelper(helper, wanted, env);
      if (credential) return { credential: { ...credential, source: `${credential.source} (from ${path})` }, tried: [...tried, credential.source] };
      tried.push(why);
    }

    const authEntry = Object.entries(config.auths ?? {}).find(([k]) => normaliseConfigKey(k) === wanted)?.[1];
    if (authEntry) {
      const source = `${path} auths["${wanted}"]`;
      if (authEntry.identitytoken) return { credential: { identityToken: authEntry.identitytoken, source }, tried: [...tried, source] };
      if (authEntry.registrytoken) return { credential: { accessToken: authEntry.registrytoken, source }, tried: [...tried, source] };
      if (authEntry.auth) return { credential: { ...decodeAuth(authEntry.auth, path), source }, tried: [...tried, source] };
      if (authEntry.username && authEntry.password !== undefined) {
        return { credential: { username: authEntry.username, password: authEntry.password, source }, tried: [...tried, source] };
      }
      tried.push(`${source} (no auth, username/password, identitytoken or registrytoken in it)`);
    } else if (!helpers.length) {
      tried.push(`${path} (no entry for ${wanted})`);
    }
    return { tried };
  };
}

/** The sources asked, in order: options, environment, docker config (or `options.sources`). */
export function credentialSources(options: CredentialOptions = {}): CredentialSource[] {
  if (options.sources) return options.sources;
  const env = options.env ?? process.env;
  return [explicitOptions(options), environmentVariables(env), dockerConfigFile(dockerConfigPath(options), env)];
}

/** Asks each source in turn; the first credential wins, and `tried` lists what was asked before it. */
export async function lookupCredentials(host: string, options: CredentialOptions = {}): Promise<CredentialLookup> {
  const wanted = normaliseConfigKey(host);
  const tried: string[] = [];
  for (const source of credentialSources(options)) {
    const found = await source(wanted);
    tried.push(...found.tried);
    if (found.credential) return { credential: found.credential, tried };
  }
  return { tried };
}
