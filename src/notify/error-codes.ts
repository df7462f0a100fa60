import type { CodeTable } from '../errors.ts';

// The error codes of notify/ (webhook notifications out). A notification never fails the
// command that sends it: these name what went wrong in warnings and in `promote validate`.
// docs/errors.md lists them (npm run docs:errors).
export const notifyErrorCodes = {
  NOTIFY_NOT_DELIVERED: { meaning: 'a webhook did not take an event after its retries; the event waits in the outbox for the next command' },
  NOTIFY_UNSIGNED: { meaning: 'a webhook has no secretFrom: its receiver cannot tell promote\'s events from anyone else\'s (a validate warning)' },
} as const satisfies CodeTable;

type NotifyErrorCodes = typeof notifyErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends NotifyErrorCodes {}
}
