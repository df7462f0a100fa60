import { PromoteError } from '../errors.ts';

/** True for a registry's "no such manifest/tag" or "no such repository" (http/errors.ts, layout-registry.ts). */
export function isNotFound(err: unknown): boolean {
  return err instanceof PromoteError && (err.code === 'MANIFEST_NOT_FOUND' || err.code === 'REPOSITORY_NOT_FOUND');
}
