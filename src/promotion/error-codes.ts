import type { CodeTable } from '../errors.ts';

// The error codes of promotion/ (the promotion engine and its git ledger): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const promotionErrorCodes = {
  APPROVAL_PUBLISH_FAILED: { meaning: 'the approval is in the ledger, but attaching its signed statement to the registry failed', outcome: 'failed' },
  APPROVER_KEY_MISSING: { meaning: 'approvals are signed and no approver key was given', outcome: 'usage' },
  BUNDLE_OTHER_REPOSITORY: { meaning: 'the bundle is not in the repository the stage takes bundles from', outcome: 'usage' },
  DIGEST_AMBIGUOUS: { meaning: 'a digest prefix matches several bundles', outcome: 'usage' },
  DIGEST_TOO_SHORT: { meaning: 'a digest prefix is too short to name a bundle', outcome: 'usage' },
  GIT_IDENTITY_MISSING: { meaning: 'git has no user identity to record as the promoter', outcome: 'usage' },
  HISTORY_UNVERIFIED: { meaning: 'the ledger history does not verify against the signed records', outcome: 'verification' },
  LEDGER_CONTENDED: { meaning: 'other promotions kept moving the ledger branch', outcome: 'refused' },
  LEDGER_CORRUPT: { meaning: 'a ledger file is malformed or does not hash to its recorded digest' },
  LEDGER_GIT_FAILED: { meaning: 'a git command on the ledger failed', outcome: 'failed' },
  LEDGER_LOCKED: { meaning: 'git cannot lock a ledger ref (a stale lock file)', outcome: 'failed' },
  LEDGER_NOT_A_REPOSITORY: { meaning: 'the ledger path is not a git repository', outcome: 'usage' },
  LEDGER_STAGE_MOVED: { meaning: 'the stage changed while the promotion was being made', outcome: 'refused' },
  LEDGER_TIMEOUT: { meaning: 'a git command on the ledger did not finish in time', outcome: 'failed' },
  LISTEN_ADDRESS_INVALID: { meaning: '`run --listen` was not given a host:port address', outcome: 'usage' },
  LISTEN_FAILED: { meaning: '`run --listen` cannot bind the address it was given', outcome: 'failed' },
  LISTEN_SECRET_MISSING: { meaning: '`run --listen` has no shared secret to authenticate webhooks with', outcome: 'usage' },
  LOCK_TIMEOUT: { meaning: 'another promote process holds the project lock for too long', outcome: 'failed' },
  PROMOTER_KEY_MISSING: { meaning: 'promotion records are signed and no promoter key was given', outcome: 'usage' },
  RECORD_PUBLISH_FAILED: { meaning: 'the promotion is in the ledger, but publishing its signed record failed', outcome: 'failed' },
  RECORD_SIGN_FAILED: { meaning: 'signing the promotion record failed', outcome: 'failed' },
  RECORD_STATEMENT_MISSING: { meaning: 'the ledger\'s record predates signed statements in the ledger', outcome: 'verification' },
} as const satisfies CodeTable;

type PromotionErrorCodes = typeof promotionErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends PromotionErrorCodes {}
}
