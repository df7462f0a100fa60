import type { CodeTable } from '../errors.ts';

// The error codes of records/ (the signed wire formats: promotion record, status report,
// approval): what each means and, when every failure with it ends the same way, its outcome
// (exit code). docs/errors.md lists them (npm run docs:errors).
export const recordsErrorCodes = {
  APPROVAL_INVALID: { meaning: 'a signed approval statement is not a valid approval predicate', outcome: 'verification' },
  STATUS_REPORT_INVALID: { meaning: 'a status report is not a valid report, or cannot be attached to the bundle it is about' },
} as const satisfies CodeTable;

type RecordsErrorCodes = typeof recordsErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends RecordsErrorCodes {}
}
