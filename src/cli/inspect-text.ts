import type { InspectResult } from '../artifact/inspect.ts';

// The human view of `promote inspect`: short sections, aligned columns, sizes in bytes (exact,
// so they can be compared with `ls -l`). `--output json` gives the full structure instead.

function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

export function formatInspect(r: InspectResult): string {
  const out: string[] = [r.reference, ''];
  out.push(...table([
    ['media type', r.mediaType],
    ...(r.artifactType ? [['artifact type', r.artifactType]] : []),
    ['manifest size', `${r.size} bytes`],
  ]));
  if (r.bundle) {
    out.push('', 'Bundle:');
    out.push(...table([
      ['name', r.bundle.name],
      ['created', r.bundle.created],
      ...(r.bundle.version ? [['version', r.bundle.version]] : []),
      ['manifests', r.bundle.manifests],
      ...(r.bundle.files ? [['files', r.bundle.files]] : []),
      ['parameters', r.bundle.parameters.join(', ') || '(none)'],
      ['content', `${r.bundle.layer.digest} (${r.bundle.layer.size} bytes compressed)`],
    ]));
  }
  const annotations = Object.entries(r.annotations).sort(([a], [b]) => (a < b ? -1 : 1));
  if (annotations.length) {
    out.push('', 'Annotations:');
    out.push(...table(annotations.map(([k, v]) => [k, v])));
  }
  if (r.files) {
    const files = r.files.filter((f) => f.type === 'file');
    const total = files.reduce((n, f) => n + f.size, 0);
    out.push('', `Files (${files.length}, ${total} bytes):`);
    out.push(...table(files.map((f) => [f.mode.toString(8).padStart(4, '0'), String(f.size).padStart(10), f.path])));
  }
  out.push('', r.signatures.length ? 'Signatures:' : 'Signatures: none');
  out.push(...table(r.signatures.map((s) => [s.tag, s.digest])));
  out.push('', r.referrers.length ? 'Referrers:' : 'Referrers: none');
  out.push(...table(r.referrers.map((d) => [d.artifactType ?? d.mediaType, d.digest, `${d.size} bytes`])));
  return `${out.join('\n')}\n`;
}
