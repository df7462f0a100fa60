import { PromoteError, type Problem } from '../errors.ts';
import { parseRules, type PolicyRule } from './rule.ts';

// A policy as a file of its own, so the same rules can be named by a stage's policy gate and
// given to the agents of that stage (`promote agent --policy`):
//
//   apiVersion: promote/v1
//   kind: Policy
//   metadata: {name: production}
//   spec: {rules: [{name, match?, expression, message?}]}
//
// Read like every project document (params/document.ts: size-capped, duplicate keys refused,
// positions kept; pipeline/policy-file.ts reads the file), and refused with every problem at
// file:line:column and JSON pointer.

export interface Policy {
  name: string;
  /** The file, as given. */
  file: string;
  rules: PolicyRule[];
}

/** A read YAML document with positions (structurally params/document.ts ParsedDocument). */
export interface PolicyDocument {
  file: string;
  value: unknown;
  locate(pointer: string): { line: number; column: number } | undefined;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOP = ['apiVersion', 'kind', 'metadata', 'spec'];

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a read Policy document (CEL loaded); throws POLICY_INVALID with every problem. */
export function parsePolicy(doc: PolicyDocument): Policy {
  const problems: Problem[] = [];
  const report = (pointer: string, p: Omit<Problem, 'pointer' | 'file' | 'line' | 'column'>) => {
    const pos = doc.locate(pointer);
    problems.push({ file: doc.file, ...(pos && { line: pos.line, column: pos.column }), pointer, ...p });
  };
  const root = isMap(doc.value) ? doc.value : {};
  if (!isMap(doc.value)) report('', { message: 'a policy document is a mapping', rule: 'type', expected: 'apiVersion, kind, metadata, spec' });
  for (const key of Object.keys(root)) if (!TOP.includes(key)) report(`/${key}`, { message: `unknown field "${key}"`, rule: 'additionalProperties', expected: TOP.join(', ') });
  if (root.apiVersion !== 'promote/v1') report('/apiVersion', { message: 'apiVersion must be promote/v1', rule: 'const', expected: 'promote/v1', actual: JSON.stringify(root.apiVersion) });
  if (root.kind !== 'Policy') report('/kind', { message: 'kind must be Policy', rule: 'const', expected: 'Policy', actual: JSON.stringify(root.kind) });
  const metadata = isMap(root.metadata) ? root.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (!NAME.test(name)) report('/metadata/name', { message: 'the policy needs a name', rule: 'pattern', expected: 'lower-case letters, digits and "-", at most 63', actual: JSON.stringify(metadata.name) });
  const spec = isMap(root.spec) ? root.spec : undefined;
  if (!spec) report('/spec', { message: 'spec is missing', rule: 'required', expected: 'a mapping with rules' });
  else for (const key of Object.keys(spec)) if (key !== 'rules') report(`/spec/${key}`, { message: `unknown field "${key}"`, rule: 'additionalProperties', expected: 'rules' });
  const rules = spec ? parseRules(spec.rules, '/spec/rules', report) : undefined;
  if (problems.length || !rules) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    const n = problems.length;
    throw new PromoteError('POLICY_INVALID', `${doc.file}: not a valid policy (${n} problem${n === 1 ? '' : 's'})`, {
      outcome: 'verification',
      problems,
      hint: 'fix the policy at the positions listed (docs/policy.md describes the format)',
      details: { file: doc.file },
    });
  }
  return { name, file: doc.file, rules };
}
