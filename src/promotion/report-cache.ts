import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writtenByUser } from '../cache-root.ts';
import type { CachedReport, VerifiedReportCache } from '../records/cached-report.ts';
import type { ReportKey } from '../records/status-report.ts';
import type { SignedBy } from '../signing/sigstore-bundle-verify.ts';
import { stageFile } from '../write-file-atomic.ts';

// The status reports a promoter has verified, one file per cluster under `<cache root>/reports/`:
// the report's manifest and Sigstore bundle bytes, and who signed it. When a HEAD of the cluster's
// tag names the same manifest digest again, records/status-report.ts takes the report from here
// instead of fetching and verifying it again — after checking the bytes against that digest (and
// the bundle against the manifest's layer digest), so an entry is only ever the content the
// registry names, and only under the trust policy (`verifiedBy`) that verified it. Every other
// check (pipeline, stage, cluster, agent scope, subject, the replay marks) runs on each read.
// Like the marks in report-marks.ts, this is the user's own cache: files 0600 in a 0700
// directory, and none is used that someone else could have written (writtenByUser).
//
// Bounded: one entry per (repository, pipeline, stage, cluster, policy), replaced when the
// cluster reports anew; past MAX_ENTRIES files (clusters that left, old policies) the oldest go.

const MAX_ENTRIES = 20_000;
/** An entry is a manifest (< 1 KiB) and a bundle (a few KiB); a larger file is not one. */
const MAX_ENTRY_BYTES = 256 * 1024;

interface EntryFile extends ReportKey {
  apiVersion: 'promote/v1';
  kind: 'VerifiedStatusReport';
  verifiedBy: string;
  digest: string;
  signedBy: SignedBy;
  manifest: string;
  bundle: string;
}

function isSignedBy(v: unknown): v is SignedBy {
  const s = v as Partial<Record<string, unknown>> | undefined;
  if (!s || typeof s !== 'object') return false;
  if (s.kind === 'key') return typeof s.key === 'string' && typeof s.hint === 'string';
  return s.kind === 'keyless' && typeof s.subject === 'string' && typeof s.issuer === 'string';
}

export class ReportCache implements VerifiedReportCache {
  readonly dir: string;
  private ready: Promise<boolean> | undefined;
  private pruned = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(key: ReportKey, verifiedBy: string): string {
    const hash = createHash('sha256').update(JSON.stringify([key.repository, key.pipeline, key.stage, key.cluster, verifiedBy])).digest('hex').slice(0, 32);
    return join(this.dir, `${encodeURIComponent(key.stage)}-${encodeURIComponent(key.cluster)}-${hash}.json`);
  }

  /** The directory exists, is ours and private (checked once per instance). */
  private usable(): Promise<boolean> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      return writtenByUser(await lstat(this.dir).catch(() => undefined), 'directory');
    })().catch(() => false);
    return this.ready;
  }

  async get(key: ReportKey, verifiedBy: string): Promise<CachedReport | undefined> {
    if (!(await this.usable())) return undefined;
    let text: string;
    try {
      const handle = await open(this.path(key, verifiedBy), 'r');
      try {
        const info = await handle.stat();
        if (!writtenByUser(info, 'file') || info.size > MAX_ENTRY_BYTES) return undefined;
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch {
      return undefined;
    }
    try {
      const e = JSON.parse(text) as Partial<EntryFile>;
      const same = e.kind === 'VerifiedStatusReport' && e.repository === key.repository && e.pipeline === key.pipeline && e.stage === key.stage && e.cluster === key.cluster && e.verifiedBy === verifiedBy;
      if (!same || typeof e.digest !== 'string' || typeof e.manifest !== 'string' || typeof e.bundle !== 'string' || !isSignedBy(e.signedBy)) return undefined;
      return { digest: e.digest, signedBy: e.signedBy, manifestBytes: Buffer.from(e.manifest, 'base64'), bundleBytes: Buffer.from(e.bundle, 'base64') };
    } catch {
      return undefined;
    }
  }

  /** Replaces the cluster's entry. Not fsynced: a torn entry fails its digest check and is read again. */
  async put(key: ReportKey, verifiedBy: string, report: CachedReport): Promise<void> {
    if (!(await this.usable())) return;
    await this.prune();
    const entry: EntryFile = {
      apiVersion: 'promote/v1',
      kind: 'VerifiedStatusReport',
      ...key,
      verifiedBy,
      digest: report.digest,
      signedBy: report.signedBy,
      manifest: report.manifestBytes.toString('base64'),
      bundle: report.bundleBytes.toString('base64'),
    };
    const path = this.path(key, verifiedBy);
    const tmp = await stageFile(path, `${JSON.stringify(entry)}\n`, { mode: 0o600, sync: false });
    await rename(tmp, path).catch(async (err: unknown) => {
      await rm(tmp, { force: true });
      throw err;
    });
  }

  /** Once per instance, before its first write: past MAX_ENTRIES, the least recently written go (down to 3/4). */
  private async prune(): Promise<void> {
    if (this.pruned) return;
    this.pruned = true;
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
    if (names.length <= MAX_ENTRIES) return;
    const aged = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(this.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - Math.floor((MAX_ENTRIES * 3) / 4))) await rm(join(this.dir, n), { force: true });
  }
}
