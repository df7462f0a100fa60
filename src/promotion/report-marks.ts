import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportKey, ReportOrder } from '../records/status-report.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

// The newest status report a promoter has seen from each cluster: its `sequence`, kept under
// `<cache root>/gates/`. Every validly signed report stays valid for ever, so whoever can move
// `status-<stage>-<cluster>` could put back an older "Converged" after the agent reported
// "Drifted"; a report numbered lower than one already seen is refused (TUF's rule that a version
// never goes back). Local to the machine that runs the gates: a fresh CI runner has seen nothing
// and relies on the freshness bound (`reports.maxAge`) alone — docs/attestations.md, "Threat model".

interface MarkFile extends ReportKey {
  apiVersion: 'promote/v1';
  kind: 'GateReportMark';
  sequence: number;
}

export class ReportMarks implements ReportOrder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(key: ReportKey): string {
    const hash = createHash('sha256').update(JSON.stringify([key.repository, key.pipeline, key.stage, key.cluster])).digest('hex').slice(0, 32);
    return join(this.dir, `report-${encodeURIComponent(key.stage)}-${encodeURIComponent(key.cluster)}-${hash}.json`);
  }

  /** The highest sequence seen (0 when none, or when the file is not this key's: a cache, not a proof). */
  async highest(key: ReportKey): Promise<number> {
    const text = await readFile(this.path(key), 'utf8').catch(() => undefined);
    if (text === undefined) return 0;
    try {
      const m = JSON.parse(text) as Partial<MarkFile>;
      const same = m.kind === 'GateReportMark' && m.repository === key.repository && m.pipeline === key.pipeline && m.stage === key.stage && m.cluster === key.cluster;
      return same && Number.isSafeInteger(m.sequence) ? m.sequence! : 0;
    } catch {
      return 0;
    }
  }

  /**
   * Raises the mark to `sequence` if it is higher; returns the highest seen before. Temp file +
   * rename, so two promoters on one machine never leave half a file.
   */
  async see(key: ReportKey, sequence: number): Promise<number> {
    const before = await this.highest(key);
    if (sequence <= before) return before;
    const mark: MarkFile = { apiVersion: 'promote/v1', kind: 'GateReportMark', ...key, sequence };
    await writeFileAtomic(this.path(key), `${JSON.stringify(mark, null, 2)}\n`);
    return before;
  }
}
