import type { GateFacts } from '../../src/pipeline/gate.ts';

/**
 * In-process fake for unit tests of gates that read only promote's own records: the facts that
 * reach outside (a server, a secret, a render) fail the test if a gate asks for them.
 */
export const noOutsideFacts: Pick<GateFacts, 'fetch' | 'secret' | 'rendered'> = {
  fetch: async (url) => {
    throw new Error(`unexpected gate request to ${url}`);
  },
  secret: async () => {
    throw new Error('unexpected secret read');
  },
  rendered: async () => {
    throw new Error('unexpected render');
  },
};
