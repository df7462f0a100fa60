// What the pipeline loader's parts share about the YAML they read.

/** Pipeline, stage and cluster names: DNS labels. */
export const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
