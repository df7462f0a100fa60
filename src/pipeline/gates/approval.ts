import type { Approval, GateInput, GateKind } from '../gate.ts';
import { identityKey, identityMatches } from '../gate.ts';
import { shortDigest } from '../../short-digest.ts';
import { checkSettings } from './settings.ts';

// `approval: {count: 2, from: [alice@example.com, bob], separateDuties: true}`: at least `count`
// distinct people approved *this digest with these parameters* for this stage of this pipeline.
// With trust.approvers only approvals whose signature the engine verified count, and the person
// is the signing key (or keyless identity), never the git author, which anyone can set; the same
// person approving twice counts once; with separateDuties an approval signed with the promoter's
// own key does not count (four-eyes principle). Without trust.approvers an approval is an unsigned
// git commit: counted by author for `count`, and the summary says it is unauthenticated (the
// loader refuses `from` and separateDuties there, and this gate fails closed if they get through).

type Ignored = { by: string; why: string };

export interface ApprovalGateSpec {
  type: 'approval';
  count: number;
  /** Approvers (email, name or key file of a trust.approvers entry) whose approvals count; all of trust.approvers when absent. */
  from?: string[];
  /** An approval signed with the promoter's own signing key does not count. */
  separateDuties: boolean;
}

/** Why a validly signed approval of the candidate does not count here, if it does not. */
function refusal(spec: ApprovalGateSpec, ctx: GateInput, c: Extract<NonNullable<Approval['check']>, { verified: true }>): string | undefined {
  const { from, separateDuties } = spec;
  if (c.pipeline !== ctx.pipeline) return `approves it for pipeline ${c.pipeline}, not ${ctx.pipeline} (replayed)`;
  if (c.stage !== ctx.stage) return `approves it for stage ${c.stage}, not ${ctx.stage} (replayed)`;
  if (!ctx.parameters) return 'cannot be matched: the candidate\'s parameters were not resolved';
  if (c.parameters !== ctx.parameters) return `approves parameters ${shortDigest(c.parameters)}, not ${shortDigest(ctx.parameters)} (the parameters changed since)`;
  if (from && !from.some((w) => c.names.some((n) => identityMatches(n, w)))) return 'is not among the allowed approvers (from)';
  if (separateDuties && ctx.promoterKey && c.identity === ctx.promoterKey) return 'is signed with the promoter\'s own key (separateDuties)';
  return undefined;
}

export const approvalGate: GateKind<ApprovalGateSpec, 'approvals'> = {
  type: 'approval',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { type: 'integer', minimum: 1, default: 1 },
      from: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Approvers whose approvals count: the name, email or key file of trust.approvers entries (needs trust.approvers).' },
      separateDuties: { type: 'boolean', default: false, description: "An approval signed with the promoter's own signing key does not count (needs trust.approvers)." },
    },
  },
  facts: ['approvals'],
  beyondSchema: ['satisfiable', 'approval-needs-approvers'],
  parse(raw, pointer, report) {
    const value = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : raw === null || raw === undefined ? {} : undefined;
    if (!value) {
      report(pointer, { message: 'approval takes a mapping', rule: 'gate-approval', expected: '{count: N, from?: [identities], separateDuties?: bool}', actual: JSON.stringify(raw) });
      return undefined;
    }
    let ok = checkSettings(value, 'approval', ['count', 'from', 'separateDuties'], pointer, report, 'count, from or separateDuties');
    const count = value.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      report(`${pointer}/count`, { message: 'count must be a whole number of at least 1', rule: 'minimum', expected: 'integer >= 1', actual: JSON.stringify(count) });
      ok = false;
    }
    const from = value.from;
    if (from !== undefined && (!Array.isArray(from) || from.length === 0 || !from.every((f) => typeof f === 'string' && f.trim()))) {
      report(`${pointer}/from`, { message: 'from must be a non-empty list of approvers (email, name or key file of trust.approvers)', rule: 'type', expected: 'list of strings', actual: JSON.stringify(from) });
      ok = false;
    }
    if (Array.isArray(from) && typeof count === 'number' && from.length < count) {
      report(`${pointer}/count`, { message: `needs ${count} distinct approvers but only ${from.length} are allowed`, rule: 'satisfiable', hint: 'add approvers to from, or lower count' });
      ok = false;
    }
    const separateDuties = value.separateDuties ?? false;
    if (typeof separateDuties !== 'boolean') {
      report(`${pointer}/separateDuties`, { message: 'separateDuties must be true or false', rule: 'type', expected: 'boolean', actual: JSON.stringify(separateDuties) });
      ok = false;
    }
    if (!ok) return undefined;
    return { type: 'approval', count: count as number, ...(from !== undefined && { from: from as string[] }), separateDuties: separateDuties as boolean };
  },
  // Without trust.approvers an approval is a git commit whose author anyone can set: `from` and
  // `separateDuties` would compare strings an attacker chooses, so they are refused rather than
  // enforced in name only.
  check(spec, { stage, trust }, pointer, report) {
    if (trust.approvers.length) return;
    for (const field of ['separateDuties', 'from'] as const) {
      if (field === 'separateDuties' ? !spec.separateDuties : spec.from === undefined) continue;
      report(`${pointer}/${field}`, {
        message: `stage "${stage}": approval ${field} needs signed approvals, and the pipeline has no trust.approvers (unsigned approvals carry no identity to compare)`,
        rule: 'approval-needs-approvers',
        hint: 'list the approvers\' public keys under spec.trust.approvers (e.g. approvers: [keys/alex.pub]; promote keygen alex writes the pair), or remove ' + field,
      });
    }
  },
  title: ({ count, from, separateDuties }) => `approval ${count}${from ? ` from [${from.join(', ')}]` : ''}${separateDuties ? ' separateDuties' : ''}`,
  async evaluate(spec, ctx) {
    const { count, from, separateDuties } = spec;
    const { signed, approvals } = await ctx.approvals();
    const counted = new Map<string, { by: string; at: string; key?: string }>();
    const ignored: Ignored[] = [];
    const gate = approvalGate.title(spec);
    if (!signed && (from || separateDuties)) {
      const summary = `${from ? 'from' : 'separateDuties'} needs signed approvals: add trust.approvers to the pipeline`;
      return { gate, type: 'approval', passed: false, summary, evidence: { required: count, ...(from && { from }), separateDuties, authenticated: false, approvers: [], ignored } };
    }
    for (const a of approvals) {
      if (!signed) {
        if (a.bundle !== ctx.candidate) continue;
        const key = identityKey(a.by);
        if (counted.has(key)) ignored.push({ by: a.by, why: 'already approved (counted once)' });
        else counted.set(key, { by: a.by, at: a.at });
        continue;
      }
      const c = a.check;
      if (!c?.verified) {
        if (a.bundle === ctx.candidate) ignored.push({ by: a.by, why: c ? c.reason : 'unsigned' });
        continue;
      }
      if (c.bundle !== ctx.candidate) {
        // Approvals of other bundles are history; one filed under this bundle but signed for another is a forgery.
        if (a.bundle === ctx.candidate) ignored.push({ by: c.approver, why: `is signed for bundle ${shortDigest(c.bundle)}, not ${shortDigest(ctx.candidate)}` });
        continue;
      }
      const why = refusal(spec, ctx, c);
      if (why) ignored.push({ by: c.approver, why });
      else if (counted.has(c.person)) ignored.push({ by: c.approver, why: 'already approved (counted once)' });
      else counted.set(c.person, { by: c.approver, at: a.at, key: c.identity });
    }
    const approvers = [...counted.values()];
    const passed = approvers.length >= count;
    const names = approvers.map((a) => a.by).join(', ');
    const notCounted = ignored.length ? `; not counted: ${ignored.map((i) => `${i.by} ${i.why}`).join('; ')}` : '';
    const caveat = signed
      ? separateDuties && !ctx.promoterKey ? ' (separateDuties is checked against the promoter\'s key by promote to)' : ''
      : ' (unsigned approvals: the pipeline has no trust.approvers, so they are not authenticated)';
    const summary = passed
      ? `${approvers.length}/${count} approvals of ${shortDigest(ctx.candidate)}: ${names}${caveat}`
      : `${approvers.length}/${count} approvals of ${shortDigest(ctx.candidate)}${names ? ` (${names})` : ''}${notCounted}${caveat}`;
    return { gate, type: 'approval', passed, summary, evidence: { required: count, ...(from && { from }), separateDuties, authenticated: signed, approvers, ignored } };
  },
};
