import type { HistoryEntry } from './ledger.ts';
import { lookupStage, type Project } from './project.ts';

// `promote history`: the stage's ledger commits, newest first, read from their trailers.
// `--verify` proves them against the signed records (verify-history.ts).

export interface HistoryItem {
  commit: string;
  action: string;
  bundle?: string;
  from?: string;
  by: string;
  at: string;
  subject: string;
  record?: string;
  gates: string[];
  reason?: string;
  /** JSON pointers whose value changed against the record before (`Parameters-Changed:`). */
  parametersChanged?: string[];
  /** For a stage rolling out in waves: the wave the record released, of how many (`Rollout-Wave:`). */
  wave?: { wave: number; of: number };
}

export function historyItem(h: HistoryEntry): HistoryItem {
  const t = h.trailers;
  const bundle = t['Promoted-Bundle']?.[0] ?? t['Approved-Bundle']?.[0];
  const from = t['Promoted-From']?.[0];
  const reason = t['Forced-Reason']?.[0] ?? t['Hold-Reason']?.[0];
  const wave = /^(\d+)\/(\d+)$/.exec(t['Rollout-Wave']?.[0] ?? '');
  return {
    commit: h.commit,
    action: h.action,
    ...(bundle && { bundle }),
    ...(from && from !== '(none)' && { from }),
    by: h.author,
    at: h.date,
    subject: h.subject,
    ...(t['Promotion-Record']?.[0] && { record: t['Promotion-Record'][0] }),
    gates: t['Gate-Evidence'] ?? [],
    ...(reason && { reason }),
    ...(t['Parameters-Changed']?.length && { parametersChanged: t['Parameters-Changed'] }),
    ...(wave && { wave: { wave: Number(wave[1]), of: Number(wave[2]) } }),
  };
}

export async function history(project: Project, stageName: string, limit?: number): Promise<HistoryItem[]> {
  const { stage } = lookupStage(project.pipeline, stageName);
  await project.ledger.refresh();
  return (await project.ledger.history(project.pipeline.name, stage.name, limit)).map(historyItem);
}
