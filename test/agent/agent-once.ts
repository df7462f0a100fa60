// One pass of the real agent over a test project, onto the embedded dir target: what the
// end-to-end tests run after each promotion to see what a cluster would have done.
import { join } from 'node:path';
import { runAgent, type AgentOptions } from '../../src/agent/agent.ts';
import type { AgentStatus } from '../../src/agent/reconcile.ts';
import type { TestProject } from '../promotion/project.ts';

export function agentOnce(p: TestProject, out: string, extra: Partial<AgentOptions> = {}): Promise<AgentStatus | undefined> {
  return runAgent({
    cwd: p.dir,
    env: p.env,
    stage: 'dev',
    cluster: 'dev-1',
    target: `dir:${out}`,
    once: true,
    key: p.promoterKeyFile,
    registry: { insecure: true },
    cacheDir: join(p.dir, '..', 'agent-cache'),
    healthTimeoutMs: 0,
    log: () => {},
    ...extra,
  });
}
