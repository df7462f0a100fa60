import type { CodeTable } from '../errors.ts';

// The error codes of ui/ (`promote ui`: the page, its JSON API and its actions): what each means
// and its outcome. docs/errors.md lists them (npm run docs:errors).
export const uiErrorCodes = {
  UI_LISTEN_FAILED: { meaning: 'promote ui cannot listen on the address given (in use, or not a local address)', outcome: 'failed' },
  UI_TOKEN_MISSING: { meaning: '--allow-actions was given without a token (--token-file or PROMOTE_UI_TOKEN)', outcome: 'usage' },
  UI_ACTIONS_DISABLED: { meaning: 'the page asked for an action, and promote ui runs without --allow-actions', outcome: 'refused' },
  UI_UNAUTHORIZED: { meaning: 'an action came without the token promote ui was started with', outcome: 'refused' },
  UI_FORBIDDEN: { meaning: 'a request came from another site or for another host name than promote ui serves', outcome: 'refused' },
  UI_BUSY: { meaning: 'promote ui already serves as many live-update streams as it allows; close another page', outcome: 'failed' },
  UI_BAD_REQUEST: { meaning: 'a request to the API is malformed (path, method, content type or body)', outcome: 'usage' },
} as const satisfies CodeTable;

type UiErrorCodes = typeof uiErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends UiErrorCodes {}
}
