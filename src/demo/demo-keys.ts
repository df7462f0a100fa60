import { mkdir } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { isPromoteError, PromoteError } from '../errors.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { LocalKeySigner } from '../signing/signer.ts';
import type { DemoResult } from './demo-result.ts';
import { exists } from './demo-project.ts';

// The demo's four keys — CI (bundles), promoter (records), agents (status reports), approver —
// at the .pub files the pipeline trusts: made on the first run, reused (with their password)
// after.

/** For the demo's own keys only, when neither PROMOTE_PASSWORD nor COSIGN_PASSWORD is set. */
export const DEMO_PASSWORD = 'promote-demo';

export interface DemoKeys {
  ci: LocalKeySigner;
  promoter: LocalKeySigner;
  agent: LocalKeySigner;
  approver: LocalKeySigner;
  files: DemoResult['keys'];
  created: string[];
}

export async function demoKeys(root: string, pipeline: Pipeline, env: NodeJS.ProcessEnv, cwd: string): Promise<DemoKeys> {
  const [{ generateKeyFiles }, { loadSigner }, { passwordFromEnv }] = await Promise.all([import('../signing/keygen.ts'), import('../signing/signer.ts'), import('../signing/password.ts')]);
  const pub = (list: Pipeline['trust']['bundles'], what: string, i = 0): string => {
    const keys = list.filter((e): e is { key: string } => 'key' in e).map((e) => e.key);
    const k = keys[i] ?? keys[0];
    if (!k || !k.endsWith('.pub')) {
      throw new PromoteError('DEMO_TRUST_KEYS', `the demo signs with key files, and trust.${what} of ${pipeline.name} names no .pub file`, { outcome: 'usage', hint: 'list e.g. .promote/keys/ci.pub (promote init writes such a pipeline)' });
    }
    return k;
  };
  const ciPub = pub(pipeline.trust.bundles, 'bundles');
  const promoterPub = pub(pipeline.trust.promotions, 'promotions');
  // Status reports are signed by trust.agents (default: the promotion signers).
  const agentPub = pipeline.trust.agents.length ? pub(pipeline.trust.agents, 'agents') : pub(pipeline.trust.promotions, 'promotions', 1);
  // Approvals are signed by trust.approvers: the demo's separateDuties gate needs it.
  const approverPub = pub(pipeline.trust.approvers, 'approvers');
  const fromEnv = passwordFromEnv(env);
  const password = fromEnv ?? DEMO_PASSWORD;
  const source: DemoResult['keys']['password'] = fromEnv === undefined ? 'demo' : env.PROMOTE_PASSWORD !== undefined ? 'PROMOTE_PASSWORD' : 'COSIGN_PASSWORD';
  const created: string[] = [];
  const signers = new Map<string, LocalKeySigner>();
  // scrypt makes each key ~0.5 s to create or open: all of them at once (libuv's thread pool).
  await Promise.all([...new Set([ciPub, promoterPub, agentPub, approverPub])].map(async (p) => {
    const base = resolve(root, p.replace(/\.pub$/, ''));
    const [hasKey, hasPub] = await Promise.all([exists(`${base}.key`), exists(`${base}.pub`)]);
    if (!hasKey && !hasPub) {
      await mkdir(resolve(base, '..'), { recursive: true });
      await generateKeyFiles(base, { password });
      created.push(p);
    } else if (!hasKey) {
      throw new PromoteError('DEMO_KEY_MISSING', `${p} exists but its private key ${p.replace(/\.pub$/, '.key')} does not`, { outcome: 'usage', hint: 'the demo signs with the private key of every trusted .pub; remove the .pub to let the demo create a pair' });
    }
    try {
      signers.set(p, await loadSigner(`${base}.key`, { env: { ...env, PROMOTE_PASSWORD: password }, interactive: false }));
    } catch (err) {
      if (isPromoteError(err) && hasKey) {
        const tried = fromEnv === undefined ? `the demo password "${DEMO_PASSWORD}"` : 'the password in PROMOTE_PASSWORD/COSIGN_PASSWORD';
        throw new PromoteError(err.code, `${err.message} (tried ${tried})`, {
          cause: err,
          outcome: err.outcome,
          hint: `these keys come from an earlier run or from promote init: set PROMOTE_PASSWORD to their password${fromEnv === undefined ? '' : ' (or unset it for the demo password)'}, or remove ${relative(cwd, resolve(base, '..')) || '.'}/ to let the demo create new keys`,
        });
      }
      throw err;
    }
  }));
  created.sort();
  return {
    ci: signers.get(ciPub)!,
    promoter: signers.get(promoterPub)!,
    agent: signers.get(agentPub)!,
    approver: signers.get(approverPub)!,
    files: { ci: ciPub.replace(/\.pub$/, '.key'), promoter: promoterPub.replace(/\.pub$/, '.key'), agent: agentPub.replace(/\.pub$/, '.key'), approver: approverPub.replace(/\.pub$/, '.key'), password: source },
    created,
  };
}
