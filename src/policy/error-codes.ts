import type { CodeTable } from '../errors.ts';

// The error codes of policy/ (rules over rendered manifests, `kind: Policy` files): what each
// means and its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const policyErrorCodes = {
  POLICY_INVALID: { meaning: 'a policy (a policy gate\'s rules, or a kind: Policy file) is malformed or has an expression that is not CEL', outcome: 'verification' },
  POLICY_VIOLATION: { meaning: 'rendered manifests break a policy rule: the agent applies nothing', outcome: 'refused' },
} as const satisfies CodeTable;

type PolicyErrorCodes = typeof policyErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends PolicyErrorCodes {}
}
