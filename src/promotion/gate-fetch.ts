import { PromoteError } from '../errors.ts';
import type { GateRequest, GateResponse } from '../pipeline/gate.ts';

// The engine's GateFacts.fetch: requests the http and metrics gates make. Issue 17 (http area)
// fills this in: node:http(s) with caFile, the timeout over the whole exchange, the body capped at
// maxBytes, and errors (GATE_UNREACHABLE, GATE_TIMEOUT, GATE_RESPONSE_TOO_LARGE) with redacted URLs.

export async function gateFetch(url: string, _request: GateRequest, _where: { root: string }): Promise<GateResponse> {
  throw new PromoteError('GATE_UNREACHABLE', `gate requests are not implemented yet (${url})`, { outcome: 'refused' });
}
