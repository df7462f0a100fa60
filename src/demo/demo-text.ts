import type { DemoResult, StatusRow } from './demo-result.ts';
import { shortDigest } from '../short-digest.ts';

// What `promote demo` prints on stdout when the story (on stderr) is over: the status table,
// its wall time, and last the commands to poke at the state it left.

function cell(digest: string | undefined, version: string | undefined): string {
  if (!digest) return '-';
  return `${version ? `${version} ` : ''}${shortDigest(digest, 'elided')}`;
}

export function statusTable(rows: StatusRow[], versions: Record<string, string>): string {
  const header = ['STAGE', 'CLUSTER', 'DESIRED', 'OBSERVED', 'PHASE', 'SINCE'];
  const body = rows.map((r) => [
    r.stage,
    r.cluster,
    cell(r.desired, r.desired ? versions[r.desired] : undefined),
    cell(r.observed, r.observed ? versions[r.observed] : undefined),
    r.phase,
    r.since ? r.since.replace(/\.\d+Z$/, 'Z') : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** `a`, `a and b`, `a, b and c`. */
function list(names: string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

export function demoText(r: DemoResult, _options: { color?: boolean } = {}): string {
  const versions = Object.fromEntries(r.releases.map((x) => [x.digest, x.version]));
  const [v1, v2] = r.releases;
  // The other stages grouped by the release they run: all of them run 1.1 when the story ends.
  const byVersion = new Map<string, string[]>();
  for (const [stage, digest] of Object.entries(r.stages)) {
    if (stage === r.rollback.stage) continue;
    const v = versions[digest] ?? shortDigest(digest, 'elided');
    byVersion.set(v, [...(byVersion.get(v) ?? []), stage]);
  }
  const others = [...byVersion].map(([v, stages]) => `${list(stages)} run${stages.length > 1 ? '' : 's'} ${v}`).join('; ');
  const lines = [
    '',
    ...(r.statusText ? ['$ promote status', r.statusText] : [statusTable(r.status, versions)]),
    '',
    `Built once, promoted by digest: ${v1!.version} = ${v1!.digest}`,
    `                                ${v2!.version} = ${v2!.digest}`,
    `${r.rollback.stage} runs ${versions[r.rollback.to] ?? ''} again after the rollback${others ? `; ${others}` : ''}.`,
    '',
    `demo finished in ${(r.wallMs / 1000).toFixed(1)} s (wall time, this machine)`,
    '',
    // The last word is where to look next, ending with `promote ui` (the list's last command).
    'Look around — the state stays on disk (in a checkout, `promote` is `npm run -s promote --`, or `npm link` it once):',
    ...r.next.map((c) => `  ${c}`),
  ];
  return lines.join('\n');
}
