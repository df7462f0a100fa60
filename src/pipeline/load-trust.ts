import type { ReportProblem } from './gate.ts';
import { isMap, NAME_RE } from './document-shapes.ts';
import type { AgentEntry, AgentScope, ApproverEntry, Person, Stage, TrustEntry, TrustSpec } from './pipeline.ts';

// `spec.trust` of a pipeline: who may sign bundles, promotion records, status reports and
// approvals; each entry a public key file or a keyless identity, approvers with whose key it is,
// agents optionally bound to the clusters and stages they report for.

export function parseTrust(raw: unknown, report: ReportProblem): TrustSpec {
const trust: TrustSpec = { bundles: [], promotions: [], agents: [], approvers: [] };
const trustRaw = raw === undefined ? {} : raw;
if (!isMap(trustRaw)) report('/spec/trust', { message: 'trust must be a mapping', rule: 'type', expected: '{bundles: [keys], promotions: [keys]}' });
else {
  for (const key of Object.keys(trustRaw)) {
    if (key !== 'bundles' && key !== 'promotions' && key !== 'agents' && key !== 'approvers') {
      report(`/spec/trust/${key}`, { message: `unknown trust list "${key}"`, rule: 'additionalProperties', expected: 'bundles, promotions, agents or approvers' });
      continue;
    }
    const list = trustRaw[key];
    const entries = Array.isArray(list) ? list.map((e, i) => trustEntry(e, key === 'approvers', key === 'agents' ? { report, at: `/spec/trust/agents/${i}` } : undefined)) : [];
    if (!Array.isArray(list) || entries.some((e) => e === undefined)) {
      report(`/spec/trust/${key}`, { message: `trust.${key} must list public key files or keyless identities`, rule: 'type', expected: key === 'approvers' ? 'e.g. [keys/alex.pub] or [{key: keys/alex.pub, name: Alex, email: alex@example.com}]' : 'e.g. [keys/ci.pub] or [{keyless: {issuer, subject}}]' });
      continue;
    }
    if (key === 'approvers') trust.approvers = entries as ApproverEntry[];
    else trust[key] = entries as TrustEntry[];
  }
}
  return trust;
}

/** trust.agents may bind a key only to stages the pipeline has. */
export function checkAgentStages(trust: TrustSpec, stages: Stage[], report: ReportProblem): void {
  trust.agents.forEach((a, i) => {
    for (const name of a.stages ?? []) {
      if (!stages.some((st) => st.name === name)) report(`/spec/trust/agents/${i}/stages`, { message: `trust.agents binds a key to stage "${name}", which the pipeline does not have`, rule: 'agent-scope-stage', expected: `one of ${stages.map((st) => st.name).join(', ')}` });
    }
  });
}

function trustEntry(e: unknown, person: boolean, agent?: { report: ReportProblem; at: string }): (ApproverEntry & AgentEntry) | undefined {
  const path = typeof e === 'string' ? e : isMap(e) && typeof e.key === 'string' ? e.key : undefined;
  // Approver entries may say whose key it is: evidence then names the person, `from` matches it.
  const who: Person = person && isMap(e) ? { ...(typeof e.name === 'string' && e.name.trim() && { name: e.name.trim() }), ...(typeof e.email === 'string' && e.email.trim() && { email: e.email.trim() }) } : {};
  // Agent keys may be bound to the clusters and/or stages they report for (checked by the gates).
  const scope: AgentScope = {};
  if (agent && isMap(e)) {
    for (const field of ['clusters', 'stages'] as const) {
      const v = e[field];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length === 0 || v.some((n) => typeof n !== 'string' || !NAME_RE.test(n))) {
        agent.report(`${agent.at}/${field}`, { message: `${field} lists the ${field} this agent key may report for`, rule: 'type', expected: `a non-empty list of ${field === 'clusters' ? 'cluster' : 'stage'} names`, actual: JSON.stringify(v) });
        continue;
      }
      scope[field] = v as string[];
    }
  }
  // Kept as written: relative to the project root, which is where the trust policy loader
  // resolves them, and how evidence should name them ("signed by key keys/ci.pub").
  if (path !== undefined && path.trim()) return { key: path, ...who, ...scope };
  if (isMap(e) && isMap(e.keyless)) return { keyless: e.keyless as Extract<TrustEntry, { keyless: unknown }>['keyless'], ...who, ...scope };
  return undefined;
}
