import { parseReference, type Reference } from './reference.ts';
import type { Registry } from './registry.ts';
import type { RetryPolicy } from './http/transport.ts';

// One factory from a reference to the Registry that serves it; each implementation is imported
// lazily so commands that never touch a registry do not pay for HTTP or TLS set-up.

export interface RegistryOptions {
  /** Plain HTTP instead of HTTPS (or accept any certificate) — for local registries only. */
  insecure?: boolean;
  /** PEM file of extra CA certificates to trust (e.g. a private registry's CA). */
  caFile?: string;
  /** Explicit credentials; otherwise PROMOTE_REGISTRY_USERNAME/PASSWORD, then docker config. */
  username?: string;
  password?: string;
  /** Path of a docker `config.json`; default $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
  dockerConfig?: string;
  /** Environment to read credentials and defaults from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Base directory for relative `oci:` paths (default process.cwd()). */
  cwd?: string;
  /** HTTP only: retry policy for 429/5xx/resets (default 5 attempts, 200 ms base, 10 s cap). */
  retry?: Partial<RetryPolicy>;
  /** HTTP only: blobs up to this size are uploaded in one PUT (default 16 MiB); larger are PATCHed. */
  monolithicMax?: number;
  /** HTTP only: PATCH large blobs in chunks of this size (default: one streamed PATCH). */
  chunkSize?: number;
  /**
   * HTTP only: overall deadline of each registry request, retries and body included (default
   * PROMOTE_REGISTRY_TIMEOUT from `env`, else 5 minutes).
   */
  timeoutMs?: number;
}

export async function openRegistry(ref: Reference | string, options: RegistryOptions = {}): Promise<Registry> {
  const parsed = typeof ref === 'string' ? parseReference(ref) : ref;
  if (parsed.transport === 'layout') {
    const { LayoutRegistry } = await import('./layout-registry.ts');
    const { resolve } = await import('node:path');
    return new LayoutRegistry(resolve(options.cwd ?? process.cwd(), parsed.path));
  }
  const { HttpRegistry } = await import('./http-registry.ts');
  return new HttpRegistry(parsed, options);
}
