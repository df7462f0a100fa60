// A bundle-relative directory named in bundle.yaml or a config blob: readers join it to an
// extraction directory, so it must stay inside (no '..', not absolute, '/' separators).

export function bundleDirProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'is not a non-empty string';
  if (path.startsWith('/') || path.includes('\\') || path.includes('\0') || path.split('/').includes('..')) return 'is not a relative path inside the bundle';
  return undefined;
}

/** `chart/`, `./chart` and `chart` are one directory: `chart`. */
export function normaliseDir(path: string): string {
  const d = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return d === '' ? '.' : d;
}
