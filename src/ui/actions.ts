import { createHash, timingSafeEqual } from 'node:crypto';
import { PromoteError } from '../errors.ts';
import type { ProjectOptions } from '../promotion/actions.ts';

// The page's actions (approve, promote, hold, release) are the CLI's own engine calls with the
// options promote ui was started with: the same gates, signing keys and refusals as `promote to`
// and friends. They exist only with --allow-actions and a token; server.ts lets a request reach
// them only as a POST from this origin with the token in its Authorization header (a header a
// cross-site form or image cannot set, and no cookie a browser would add by itself).

export type ActionName = 'promote' | 'approve' | 'hold' | 'release';
export const ACTIONS: readonly ActionName[] = ['promote', 'approve', 'hold', 'release'];

export interface ActionRequest {
  stage: string;
  bundle?: string;
  comment?: string;
  reason?: string;
}

/** True when `given` is the token, compared in constant time (both sides hashed to one length first). */
export function tokenMatches(token: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(token).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an Authorization header, or undefined. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  return m?.[1];
}

function text(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || !v.trim() || v.length > 1000) throw new PromoteError('UI_BAD_REQUEST', `the action's "${field}" must be a non-empty string of at most 1000 characters`, { outcome: 'usage', hint: `send {"${field}": "…"} as JSON` });
  return v.trim();
}

export function parseAction(action: string, body: unknown): { name: ActionName; request: ActionRequest } {
  if (!(ACTIONS as readonly string[]).includes(action)) throw new PromoteError('UI_BAD_REQUEST', `there is no action "${action.slice(0, 40)}"`, { outcome: 'usage', hint: `actions: ${ACTIONS.join(', ')}` });
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new PromoteError('UI_BAD_REQUEST', 'the action needs a JSON object', { outcome: 'usage', hint: 'send {"stage": "…"}' });
  const b = body as Record<string, unknown>;
  const name = action as ActionName;
  const bundle = text(b, 'bundle', name === 'approve');
  const comment = text(b, 'comment', false);
  const reason = text(b, 'reason', false);
  return { name, request: { stage: text(b, 'stage', true)!, ...(bundle && { bundle }), ...(comment && { comment }), ...(reason && { reason }) } };
}

/** The CLI command the page shows instead of a button when actions are off. */
export function cliCommand(name: ActionName, r: ActionRequest, pipeline?: string): string {
  const p = pipeline ? ` --pipeline ${pipeline}` : '';
  if (name === 'promote') return `promote to ${r.stage}${r.bundle ? ` --bundle ${r.bundle}` : ''}${p}`;
  if (name === 'approve') return `promote approve ${r.stage} ${r.bundle}${p}`;
  if (name === 'hold') return `promote hold ${r.stage}${r.reason ? ` --reason ${JSON.stringify(r.reason)}` : ''}${p}`;
  return `promote release ${r.stage}${p}`;
}

/** The keys actions sign with, as the CLI finds them: --key / PROMOTE_KEY, and for approvals PROMOTE_APPROVER_KEY. */
export interface ActionKeys {
  promoter?: string;
  approver?: string;
}

/** Runs the action through the engine call its CLI command makes. */
export async function runAction(o: ProjectOptions, keys: ActionKeys, name: ActionName, r: ActionRequest): Promise<unknown> {
  const engine = await import('../promotion/actions.ts');
  const { key: _key, ...base } = o;
  if (name === 'promote') return engine.toCommand({ ...base, ...(keys.promoter && { key: keys.promoter }) }, r.stage, r.bundle);
  if (name === 'approve') return engine.approveCommand({ ...base, ...(keys.approver && { key: keys.approver }) }, r.stage, r.bundle!, r.comment);
  return engine.holdCommand(base, r.stage, name === 'hold', r.reason);
}
