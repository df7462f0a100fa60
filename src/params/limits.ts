// Documented size limits. A parameter file, environment, pipeline or bundle.yaml is a few
// kilobytes; 1 MiB leaves room for generous comments while refusing, before reading a byte,
// the 50 MB file that would otherwise be parsed into memory. Callers pass their own limit for
// documents that are legitimately larger (a CRD manifest in a bundle can be 1 MiB+).

export const DEFAULT_DOCUMENT_MAX_BYTES = 1024 * 1024;

/** Aliases a document may expand (yaml's `maxAliasCount`): refuses "billion laughs" early. */
export const MAX_ALIAS_COUNT = 100;

export interface DocumentLimits {
  maxBytes?: number;
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}
