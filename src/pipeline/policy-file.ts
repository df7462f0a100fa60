import { loadCel } from '../cel/expression.ts';
import { readYamlFile } from '../params/document.ts';
import { parsePolicy, type Policy } from '../policy/policy-file.ts';

// Reading a `kind: Policy` file (policy/policy-file.ts parses it) with the reader of every
// project document: what a policy gate's `file:` names and what `promote agent --policy` enforces.

/** Reads and parses a Policy file (`path` as it should appear in messages); throws POLICY_INVALID, DOCUMENT_NOT_FOUND, … */
export async function loadPolicyFile(path: string): Promise<Policy> {
  await loadCel();
  return parsePolicy(await readYamlFile(path));
}
