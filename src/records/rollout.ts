import { FieldError, arrayOf, count, object, optional, string, type Check } from './json-fields.ts';

// A stage's rollout in waves (issue 19), as its promotion records carry it. One signed record per
// wave: the record that starts a rollout releases wave 1; each later wave is released by a new
// record of the stage (action `wave`, the next sequence number) with the same bundle and the same
// parameters, whose `wave` is one higher. The wave lists are frozen when the rollout starts, so
// an agent learns from signed data alone whether its cluster is released, and what it keeps
// running when it is not: `keep` names, for each cluster of a wave not yet released, the record
// it ran when the rollout started — a record of the same stage, older, that releases it. The
// agent verifies that record as it verifies any (signature, pipeline, stage, cluster), and
// never follows a kept record's own `keep`: one step, bounded. Format: docs/rollouts.md.

export interface RecordRollout {
  /** The waves released so far: waves 1..wave. Equal to `waves.length` once the rollout is complete. */
  wave: number;
  /** Every cluster of the record, each in exactly one wave, in release order. */
  waves: { clusters: string[] }[];
  /**
   * What the clusters of the waves not yet released keep running: each record digest with its
   * clusters. A cluster of an unreleased wave that is in no entry (a first promotion, a cluster
   * new to the environment) runs nothing of the stage until its wave is released.
   */
  keep?: { record: string; clusters: string[] }[];
}

/** What a record means for one cluster. */
export type ClusterRelease =
  /** The cluster runs this record. */
  | { released: true; wave?: number }
  /** Not yet: the cluster keeps running this older record of the stage. */
  | { released: false; wave: number; keep: string }
  /** Not yet, and there is nothing older to keep running. */
  | { released: false; wave: number; keep?: undefined };

/** The wave (1-based) a cluster belongs to, or undefined when the rollout does not name it. */
export function waveOf(rollout: RecordRollout, cluster: string): number | undefined {
  const i = rollout.waves.findIndex((w) => w.clusters.includes(cluster));
  return i < 0 ? undefined : i + 1;
}

/** Whether a record applies to `cluster` now; a record without a rollout releases every cluster. */
export function clusterRelease(rollout: RecordRollout | undefined, cluster: string): ClusterRelease {
  if (!rollout) return { released: true };
  const wave = waveOf(rollout, cluster);
  // A cluster the waves do not name is not the record's (the agent refuses it as RECORD_WRONG_CLUSTER).
  if (wave === undefined || wave <= rollout.wave) return { released: true, ...(wave !== undefined && { wave }) };
  const keep = rollout.keep?.find((k) => k.clusters.includes(cluster))?.record;
  return keep ? { released: false, wave, keep } : { released: false, wave };
}

/** The clusters of the released waves. */
export function releasedClusters(rollout: RecordRollout | undefined, all: string[]): string[] {
  if (!rollout) return all;
  return rollout.waves.slice(0, rollout.wave).flatMap((w) => w.clusters);
}

export function rolloutComplete(rollout: RecordRollout | undefined): boolean {
  return !rollout || rollout.wave >= rollout.waves.length;
}

/** The record a cluster runs under `head` (a signed record of the stage): the head itself, or what it keeps. */
export interface HeadRecord {
  digest: string;
  rollout?: RecordRollout;
}

/**
 * The rollout of a new record that starts over at wave 1 (a promotion, a configuration change)
 * on a stage whose current record is `head`: every cluster not in wave 1 keeps what it runs
 * under `head` — the head itself where it released the cluster, else what the head kept for it.
 */
export function startRollout(waves: string[][], head: HeadRecord | undefined): RecordRollout {
  return { wave: 1, waves: waves.map((clusters) => ({ clusters })), ...keepFor(waves, 1, head) };
}

/** The record that releases the next wave of `head`'s rollout (same bundle, same parameters). */
export function nextWave(head: HeadRecord & { rollout: RecordRollout }): RecordRollout {
  const waves = head.rollout.waves.map((w) => w.clusters);
  const wave = Math.min(head.rollout.wave + 1, waves.length);
  // What an unreleased cluster keeps is unchanged by a wave release: what the head kept for it.
  return { wave, waves: head.rollout.waves, ...keepFor(waves, wave, head) };
}

function keepFor(waves: string[][], released: number, head: HeadRecord | undefined): { keep?: RecordRollout['keep'] } {
  if (!head) return {};
  const groups = new Map<string, string[]>();
  for (const cluster of waves.slice(released).flat()) {
    const r = clusterRelease(head.rollout, cluster);
    const record = r.released ? head.digest : r.keep;
    if (record === undefined) continue;
    groups.set(record, [...(groups.get(record) ?? []), cluster]);
  }
  const keep = [...groups].map(([record, clusters]) => ({ record, clusters }));
  return keep.length ? { keep } : {};
}

const digest: Check<string> = (v, at) => {
  if (typeof v !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(v)) throw new FieldError(at, 'a sha256:<64 hex> digest', v);
  return v;
};

/** The shape alone; checkRecordRollout() then checks it against the record's clusters. */
export const recordRolloutShape = object<RecordRollout>({
  wave: count,
  waves: arrayOf(object({ clusters: arrayOf(string) })),
  keep: optional(arrayOf(object({ record: digest, clusters: arrayOf(string) }))),
});

/**
 * A record's `rollout` (already of the right shape) against the record's clusters: at least one
 * wave; every cluster in exactly one wave; `wave` within 1..waves; `keep` only for clusters of
 * unreleased waves, each at most once. Throws FieldError at the offending pointer.
 */
export function checkRecordRollout(r: RecordRollout, clusters: string[], at: string): RecordRollout {
  if (r.waves.length === 0) throw new FieldError(`${at}/waves`, 'at least one wave', r.waves);
  if (r.wave < 1 || r.wave > r.waves.length) throw new FieldError(`${at}/wave`, `a wave number from 1 to ${r.waves.length}`, r.wave);
  const known = new Set(clusters);
  const seen = new Set<string>();
  r.waves.forEach((w, i) => {
    if (w.clusters.length === 0) throw new FieldError(`${at}/waves/${i}/clusters`, 'at least one cluster', w.clusters);
    w.clusters.forEach((c, j) => {
      if (seen.has(c)) throw new FieldError(`${at}/waves/${i}/clusters/${j}`, 'a cluster in no earlier wave', c);
      if (known.size && !known.has(c)) throw new FieldError(`${at}/waves/${i}/clusters/${j}`, "one of the record's clusters (/clusters)", c);
      seen.add(c);
    });
  });
  const missing = clusters.find((c) => !seen.has(c));
  if (missing !== undefined) throw new FieldError(`${at}/waves`, `every cluster of the record in a wave (${missing} is in none)`, r.waves.length);
  const unreleased = new Set(r.waves.slice(r.wave).flatMap((w) => w.clusters));
  const kept = new Set<string>();
  r.keep?.forEach((k, i) => {
    k.clusters.forEach((c, j) => {
      if (!unreleased.has(c) || kept.has(c)) throw new FieldError(`${at}/keep/${i}/clusters/${j}`, 'a cluster of a wave not yet released, named once', c);
      kept.add(c);
    });
  });
  return r;
}
