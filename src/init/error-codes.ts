import type { CodeTable } from '../errors.ts';

// The error codes of init/ (promote init): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const initErrorCodes = {
  INIT_FILES_EXIST: { meaning: 'the directory already has files init would write', outcome: 'usage' },
  INIT_NAME_INVALID: { meaning: 'the name cannot name a bundle and pipeline', outcome: 'usage' },
} as const satisfies CodeTable;

type InitErrorCodes = typeof initErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends InitErrorCodes {}
}
