import type { PromoteError } from '../../errors.ts';
import { Authenticator, repositoryScope } from './auth.ts';
import type { CredentialOptions } from './credentials.ts';
import { errorFor, parseErrorBody, responseError, type ErrorContext } from './errors.ts';
import { probeScheme, type SchemeProbe } from './probe-scheme.ts';
import { discard, readText, Transport, type HttpRequest, type HttpResponse, type TransportOptions } from './transport.ts';

// One repository on one registry: URLs under /v2/<name>/, requests answered with auth, and
// responses checked against the statuses the spec allows. upload.ts, referrers.ts and
// http-registry.ts all speak through this.

export interface RepositoryClientOptions extends TransportOptions, CredentialOptions {}

export interface SendOptions {
  /** `pull` for reads, `push` for writes; extra scopes (e.g. a mount's source) in `scopes`. */
  access: 'pull' | 'push';
  scopes?: string[];
  /** Statuses that count as success; anything else becomes a PromoteError. */
  ok: number[];
  /** Statuses returned to the caller without turning them into an error (e.g. 404 on HEAD). */
  pass?: number[];
  /** For error messages: what was being done. */
  action: string;
}

export class RepositoryClient {
  readonly transport: Transport;
  readonly auth: Authenticator;
  /** Host used on the wire (docker.io → registry-1.docker.io). */
  readonly apiHost: string;
  /** `host/repository`, as the user wrote the host, for messages. */
  readonly name: string;
  readonly repository: string;
  /** `https://host`; with --insecure it may turn out to be `http://host` (see probeScheme). */
  private baseUrl: string;
  /** --insecure only: the probe, started with the client so its round trip overlaps other start-up work. */
  private probe: SchemeProbe | undefined;

  constructor(registryHost: string, repository: string, options: RepositoryClientOptions) {
    this.transport = new Transport(options);
    this.apiHost = registryHost === 'docker.io' ? 'registry-1.docker.io' : registryHost;
    this.repository = repository;
    this.name = `${registryHost}/${repository}`;
    this.baseUrl = `https://${this.apiHost}`;
    this.probe = this.transport.insecure ? probeScheme(this.apiHost) : undefined;
    this.auth = new Authenticator(this.transport, registryHost, options);
  }

  /** `/v2/<name>/<suffix>` as an absolute URL. */
  url(suffix: string): string {
    return `${this.baseUrl}/v2/${this.repository}/${suffix}`;
  }

  /** URLs built before an --insecure probe found plain HTTP carry the provisional https:// origin. */
  normalise(url: string): string {
    return this.baseUrl.startsWith('http:') && url.startsWith(`https://${this.apiHost}/`) ? `http://${url.slice('https://'.length)}` : url;
  }

  /** Resolves a Location header (absolute or relative, REGISTRY-NOTES.md) against the request URL. */
  resolveLocation(location: string | undefined, requestUrl: string, action: string): string {
    if (!location) throw errorFor(502, [], 'the registry gave no Location header', { action, name: this.name });
    return new URL(location, this.normalise(requestUrl)).href;
  }

  /**
   * Credentials go only to the registry itself: same scheme, host and port. Never to a host a
   * Location pointed at, and never to the same host downgraded from https to plain http.
   */
  sendsCredentialsTo(url: string): boolean {
    return new URL(url).origin === new URL(this.baseUrl).origin;
  }

  scopesFor(opts: SendOptions): string[] {
    return [repositoryScope(this.repository, opts.access), ...(opts.scopes ?? [])];
  }

  /**
   * Sends with authentication (answering at most one challenge) and checks the status: returns
   * the response for `ok`/`pass` statuses, throws the mapped PromoteError otherwise.
   */
  async send(req: HttpRequest, opts: SendOptions): Promise<HttpResponse> {
    const scopes = this.scopesFor(opts);
    if (this.probe) {
      const probe = this.probe;
      probe.ref();
      this.baseUrl = `${await probe.scheme}://${this.apiHost}`;
      this.probe = undefined;
    }
    req = { ...req, url: this.normalise(req.url) };
    let res: HttpResponse | undefined;
    for (let round = 0; round < 2; round++) {
      const authorization = this.sendsCredentialsTo(req.url) ? await this.auth.authorization(scopes) : undefined;
      try {
        res = await this.transport.send({ ...req, headers: { ...req.headers, ...(authorization !== undefined && { authorization }) } });
      } catch (err) {
        // The probe can answer https for a plain-HTTP registry (its 5 s timer fires first when a
        // busy start-up blocked the event loop past it): the first HTTPS request then meets a
        // plain-text answer. --insecure allows plain HTTP, so switch this client once and resend.
        if (!(this.transport.insecure && this.baseUrl.startsWith('https:') && plainTextAnswer(err))) throw err;
        this.baseUrl = `http://${this.apiHost}`;
        req = { ...req, url: this.normalise(req.url) };
        round--;
        continue;
      }
      if (res.status !== 401) break;
      if (round === 1) break;
      const again = await this.auth.onUnauthorized(res.headers['www-authenticate'], scopes, authorization !== undefined);
      if (!again) break;
      await discard(res.body);
    }
    const final = res!;
    if (opts.ok.includes(final.status) || opts.pass?.includes(final.status)) return final;
    throw await this.failure(final, opts.action);
  }

  async failure(res: HttpResponse, action: string): Promise<PromoteError> {
    const ctx: ErrorContext = { action, name: this.name };
    if (res.status === 401) {
      const challenge = res.headers['www-authenticate'] ?? '';
      const text = await readText(res.body);
      if (/insufficient_scope/.test(challenge)) return errorFor(401, parseErrorBody(text), text, ctx, res.attempts, challenge);
      return this.auth.unauthorizedFor(`${action} was refused (401)`);
    }
    return responseError(res, ctx);
  }
}

/** A TLS handshake answered in plain text (the peer speaks HTTP), anywhere in the cause chain. */
function plainTextAnswer(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    // OpenSSL 3 reports it as code EPROTO with the reason only in the message.
    const text = `${String((e as { code?: unknown }).code ?? '')} ${String((e as { message?: unknown }).message ?? '')}`;
    if (/WRONG_VERSION_NUMBER|wrong version number|PACKET_LENGTH_TOO_LONG|packet length too long|HTTP_REQUEST|http request|UNKNOWN_PROTOCOL|unknown protocol/.test(text)) return true;
  }
  return false;
}
