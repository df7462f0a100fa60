import { PromoteError, type ErrorCode } from '../../errors.ts';
import { readText, type HttpResponse } from './transport.ts';

// Distribution error bodies (distribution-spec "Error Codes") → PromoteErrors with a next step.
// Not-found codes are the ones the OCI layout store raises too (MANIFEST_NOT_FOUND,
// BLOB_NOT_FOUND), so callers handle both stores alike; REGISTRY_* for transport and auth.

export interface RegistryErrorBody {
  code: string;
  message?: string;
  detail?: unknown;
}

export function parseErrorBody(text: string): RegistryErrorBody[] {
  try {
    const parsed = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) {
      return parsed.errors.filter((e): e is RegistryErrorBody => typeof e === 'object' && e !== null && typeof (e as RegistryErrorBody).code === 'string');
    }
  } catch {
    /* not JSON: distribution answers unknown routes with text/plain */
  }
  return [];
}

/** What was being done, for the message: "pushing manifest 1.0 to 127.0.0.1:5000/acme/webapp". */
export interface ErrorContext {
  action: string;
  /** `host/repository`. */
  name: string;
}

function summary(errors: RegistryErrorBody[], text: string): string {
  if (errors.length) return errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  const t = text.trim().split('\n')[0] ?? '';
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}

/** Reads the error body of a non-success response and builds the error a user should see. */
export async function responseError(res: HttpResponse, ctx: ErrorContext): Promise<PromoteError> {
  const text = await readText(res.body);
  const errors = parseErrorBody(text);
  return errorFor(res.status, errors, text, ctx, res.attempts, res.headers['www-authenticate']);
}

export function errorFor(status: number, errors: RegistryErrorBody[], text: string, ctx: ErrorContext, attempts = 1, challenge?: string): PromoteError {
  const codes = new Set(errors.map((e) => e.code));
  const said = summary(errors, text);
  const where = `${ctx.action} (${ctx.name})`;
  const details = { status, registryErrors: errors.map((e) => e.code), name: ctx.name };
  const make = (code: ErrorCode, message: string, hint: string, outcome: PromoteError['outcome'] = 'failed') =>
    new PromoteError(code, message, { hint, outcome, details });

  if (status === 401 && /insufficient_scope/.test(challenge ?? '')) {
    return make('REGISTRY_DENIED', `${where}: the credentials are valid but do not allow this (insufficient scope)`,
      'ask the registry administrator for push (write) access to this repository, or use credentials that have it');
  }
  if (status === 401 || codes.has('UNAUTHORIZED')) {
    return make('REGISTRY_UNAUTHORIZED', `${where}: authentication required (401)`,
      'log in with `docker login <host>` or set PROMOTE_REGISTRY_USERNAME and PROMOTE_REGISTRY_PASSWORD');
  }
  if (status === 403 || codes.has('DENIED')) {
    return make('REGISTRY_DENIED', `${where}: access denied (403${said ? `: ${said}` : ''})`,
      'the credentials are valid but lack permission for this repository; ask for access or use other credentials');
  }
  if (codes.has('NAME_UNKNOWN')) {
    return make('REPOSITORY_NOT_FOUND', `${where}: repository ${ctx.name} does not exist`,
      'check the repository name; it is created by the first push');
  }
  if (codes.has('MANIFEST_UNKNOWN')) {
    return make('MANIFEST_NOT_FOUND', `${where}: manifest not found`, 'check the tag or digest; `promote inspect` or the registry\'s tag list shows what exists');
  }
  if (codes.has('BLOB_UNKNOWN') || codes.has('MANIFEST_BLOB_UNKNOWN')) {
    return make('BLOB_NOT_FOUND', `${where}: blob not found${errors[0]?.detail ? ` (${JSON.stringify(errors[0].detail)})` : ''}`,
      'a manifest can only reference blobs already pushed to the same repository; push the blobs first');
  }
  if (codes.has('BLOB_UPLOAD_UNKNOWN') || codes.has('BLOB_UPLOAD_INVALID')) {
    return make('BLOB_UPLOAD_INVALID', `${where}: the upload session was lost (${said})`,
      'retry the push; if it persists, the registry may be purging uploads or running behind a load balancer without shared state');
  }
  if (codes.has('DIGEST_INVALID')) {
    return make('DIGEST_INVALID', `${where}: the registry says the content does not match its digest (${said})`,
      'the content changed while it was being sent; build it again and retry', 'verification');
  }
  if (codes.has('SIZE_INVALID')) {
    return make('SIZE_INVALID', `${where}: the registry says the content length does not match (${said})`,
      'the content changed while it was being sent; build it again and retry', 'verification');
  }
  if (codes.has('MANIFEST_INVALID') || codes.has('MANIFEST_UNVERIFIED')) {
    const tooLarge = /too large/i.test(text);
    return tooLarge
      ? make('MANIFEST_TOO_LARGE', `${where}: the registry refused the manifest as too large`, 'registries refuse manifests over 4 MiB; move data out of annotations into blobs')
      : make('MANIFEST_INVALID', `${where}: the registry refused the manifest (${said})`,
        'the manifest must be valid JSON of the declared media type and reference only pushed blobs');
  }
  if (codes.has('NAME_INVALID') || codes.has('TAG_INVALID')) {
    return make('REFERENCE_INVALID', `${where}: the registry refused the name (${said})`,
      'repository names are lower-case path components; tags are up to 128 letters, digits, "_", "." and "-"', 'usage');
  }
  if (codes.has('TOOMANYREQUESTS') || status === 429) {
    return make('REGISTRY_RATE_LIMITED', `${where}: the registry is rate-limiting requests (429) after ${attempts} attempts`,
      'wait and retry later, or authenticate to get a higher limit');
  }
  if (codes.has('UNSUPPORTED') || status === 405) {
    return make('REGISTRY_UNSUPPORTED', `${where}: the registry does not support this operation (${status}${said ? `: ${said}` : ''})`,
      'for deletes, distribution needs `storage.delete.enabled: true`');
  }
  if (status === 413) {
    return make('TOO_LARGE', `${where}: the registry refused the request body as too large (413)`, 'the registry or a proxy in front of it limits request sizes');
  }
  if (status === 400 && /HTTP request to an HTTPS server/i.test(text)) {
    return make('REGISTRY_TLS', `${where}: the registry speaks HTTPS but promote used plain HTTP`, 'drop --insecure; if the registry uses a private CA, pass --ca-file <pem>');
  }
  if (status >= 500) {
    return make('REGISTRY_ERROR', `${where}: the registry failed with ${status}${said ? ` (${said})` : ''}${attempts > 1 ? ` after ${attempts} attempts` : ''}`,
      'the registry or a proxy in front of it is failing; retry later and check its logs');
  }
  if (status === 404) {
    return make('REPOSITORY_NOT_FOUND', `${where}: not found (404${said ? `: ${said}` : ''})`,
      'check the registry host and the repository name (lower-case only)');
  }
  return make('REGISTRY_ERROR', `${where}: unexpected answer ${status}${said ? ` (${said})` : ''}`,
    'check that the host is an OCI registry (distribution spec v2 API under /v2/)');
}
