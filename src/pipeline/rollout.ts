import { isMap } from './document-shapes.ts';
import type { ReportProblem } from './gate.ts';
import { gateKind, type GateSpec } from './gates/kinds.ts';
import { parseGates, type ParsedGate } from './load-gates.ts';

// A stage's `rollout:` (issue 19): its clusters in waves, each released only once the waves before
// it are Converged on the digest, soaked, and through the gates the wave names. Written
//   rollout: {waves: [{clusters: [prod-eu-1]}, {clusters: [prod-eu-2, prod-us-1], after: {soak: 30m}}, {clusters: "*"}], maxUnavailable: 1}
// The wave lists are resolved against the environment's clusters when a rollout starts and
// frozen in its records (records/rollout.ts); gates and maxUnavailable are read from the
// pipeline when each wave is released. Reference: docs/rollouts.md.

export interface WaveSpec {
  /** Cluster names or globs (`prod-eu-*`); `"*"` alone: every cluster no earlier wave took. */
  clusters: string[];
  /**
   * What must hold before this wave is released, on the clusters of the waves before it (the
   * upstream gates — converged, soak, metrics — judge those clusters of this very stage): the
   * `after.soak` as a soak gate first, then `after.gates`. Empty for wave 1, which is released
   * by the stage's own promotion and its gates.
   */
  gates: GateSpec[];
  /** Where the wave is written, `/spec/stages/2/rollout/waves/1`. */
  at: string;
}

export interface RolloutSpec {
  waves: WaveSpec[];
  /**
   * How many clusters of the released waves may be other than Converged on the digest (still
   * progressing, not reporting, or unhealthy) and the next wave still be released: a count, or a
   * percentage of the released clusters rounded down. Default 0.
   */
  maxUnavailable: { count: number } | { percent: number };
}

export const ROLLOUT_FIELDS = ['waves', 'maxUnavailable'];
const WAVE_FIELDS = ['clusters', 'after'];
const AFTER_FIELDS = ['soak', 'gates'];
const CLUSTER_PATTERN = /^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/;

/** A stage's `rollout` value, or undefined (with problems reported) when it is not one. */
export function parseRollout(raw: unknown, at: string, report: ReportProblem): { spec: RolloutSpec; gates: ParsedGate[][] } | undefined {
  if (!isMap(raw)) {
    report(at, { message: 'rollout is a mapping', rule: 'type', expected: '{waves: [{clusters: [...]}, ...], maxUnavailable?: 0}' });
    return undefined;
  }
  let ok = true;
  const problem: ReportProblem = (pointer, p) => {
    ok = false;
    report(pointer, p);
  };
  for (const key of Object.keys(raw)) if (!ROLLOUT_FIELDS.includes(key)) problem(`${at}/${key}`, { message: `unknown rollout field "${key}"`, rule: 'additionalProperties', expected: ROLLOUT_FIELDS.join(', ') });
  const waves: WaveSpec[] = [];
  const gates: ParsedGate[][] = [];
  if (!Array.isArray(raw.waves) || raw.waves.length === 0) problem(`${at}/waves`, { message: 'a rollout needs at least one wave', rule: 'minItems', expected: 'a list of {clusters: [...]}' });
  else {
    raw.waves.forEach((w: unknown, i: number) => {
      const wat = `${at}/waves/${i}`;
      if (!isMap(w)) {
        problem(wat, { message: 'a wave is a mapping', rule: 'type', expected: '{clusters: [<name or glob>, ...] | "*", after?: {soak?, gates?}}' });
        return;
      }
      for (const key of Object.keys(w)) if (!WAVE_FIELDS.includes(key)) problem(`${wat}/${key}`, { message: `unknown wave field "${key}"`, rule: 'additionalProperties', expected: WAVE_FIELDS.join(', ') });
      const list = w.clusters === '*' ? ['*'] : w.clusters;
      if (!Array.isArray(list) || list.length === 0 || list.some((c) => typeof c !== 'string' || !CLUSTER_PATTERN.test(c))) {
        problem(`${wat}/clusters`, { message: 'a wave names its clusters', rule: 'type', expected: 'a list of cluster names or globs (prod-eu-*), or "*" for every cluster no earlier wave took', actual: JSON.stringify(w.clusters) });
        return;
      }
      const waveGates: ParsedGate[] = [];
      if (w.after !== undefined) {
        if (i === 0) problem(`${wat}/after`, { message: 'the first wave has no wave before it to wait for', rule: 'rollout-first-after', hint: "put what the first wave needs in the stage's gates" });
        else if (!isMap(w.after)) problem(`${wat}/after`, { message: 'after is a mapping', rule: 'type', expected: '{soak?: 30m, gates?: [...]}' });
        else {
          for (const key of Object.keys(w.after)) if (!AFTER_FIELDS.includes(key)) problem(`${wat}/after/${key}`, { message: `unknown field "${key}" in after`, rule: 'additionalProperties', expected: AFTER_FIELDS.join(', ') });
          if (w.after.soak !== undefined) {
            const soak = gateKind('soak')!.parse(w.after.soak, `${wat}/after/soak`, problem);
            if (soak) waveGates.push({ spec: soak, at: `${wat}/after/soak`, pointer: `${wat}/after/soak` });
          }
          waveGates.push(...parseGates(w.after.gates, `${wat}/after`, problem));
        }
      }
      gates.push(waveGates);
      waves.push({ clusters: list as string[], gates: waveGates.map((g) => g.spec), at: wat });
    });
  }
  let maxUnavailable: RolloutSpec['maxUnavailable'] = { count: 0 };
  const m = raw.maxUnavailable;
  if (m !== undefined) {
    if (typeof m === 'number' && Number.isSafeInteger(m) && m >= 0) maxUnavailable = { count: m };
    else if (typeof m === 'string' && /^(100|[1-9]?[0-9])%$/.test(m.trim())) maxUnavailable = { percent: Number(m.trim().slice(0, -1)) };
    else problem(`${at}/maxUnavailable`, { message: 'maxUnavailable is how many clusters of the released waves may be unavailable when the next wave is released', rule: 'type', expected: 'a whole number (1) or a percentage ("10%")', actual: JSON.stringify(m) });
  }
  return ok ? { spec: { waves, maxUnavailable }, gates } : undefined;
}

/** How many unavailable clusters `maxUnavailable` allows among `released` clusters. */
export function allowedUnavailable(spec: RolloutSpec, released: number): number {
  return 'count' in spec.maxUnavailable ? spec.maxUnavailable.count : Math.floor((released * spec.maxUnavailable.percent) / 100);
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
}

/**
 * The waves' cluster lists for an environment's clusters, each cluster in the first wave that
 * names it (so a trailing `"*"` takes the rest), or the problems: a name the environment does not
 * have, a wave that takes no cluster, a cluster in no wave.
 */
export function resolveWaves(spec: RolloutSpec, clusters: string[]): { waves: string[][] } | { problems: string[] } {
  const problems: string[] = [];
  const taken = new Set<string>();
  const known = new Set(clusters);
  const waves = spec.waves.map((w, i) => {
    const mine: string[] = [];
    for (const pattern of w.clusters) {
      if (!pattern.includes('*') && !known.has(pattern)) {
        problems.push(`wave ${i + 1} names cluster ${pattern}, which the environment does not have`);
        continue;
      }
      const re = globRegExp(pattern);
      for (const c of clusters) if (!taken.has(c) && re.test(c)) {
        taken.add(c);
        mine.push(c);
      }
    }
    if (mine.length === 0 && !problems.length) problems.push(`wave ${i + 1} (${w.clusters.join(', ')}) takes no cluster: every one it names is in an earlier wave, or none matches`);
    return mine;
  });
  const left = clusters.filter((c) => !taken.has(c));
  if (left.length) problems.push(`${left.length === 1 ? `cluster ${left[0]} is` : `clusters ${left.slice(0, 5).join(', ')}${left.length > 5 ? ` and ${left.length - 5} more` : ''} are`} in no wave: name ${left.length === 1 ? 'it' : 'them'}, or end the waves with {clusters: "*"}`);
  return problems.length ? { problems } : { waves };
}
