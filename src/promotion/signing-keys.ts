import { PromoteError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import type { Project } from './project.ts';

// The keys the verbs sign with: the promoter's (records) and the approver's (approvals), each
// checked against its trust list before anything is written.

const promoterSigners = new WeakMap<Project, Promise<Signer>>();

/** The promoter's key, refused (exit 4) unless trust.promotions holds it: checked before anything is written. */
export function loadPromoterSigner(project: Project): Promise<Signer> {
  // Loaded once per project: `promote run` promotes several stages with one key (one password prompt).
  let signer = promoterSigners.get(project);
  if (!signer) {
    signer = loadTrustedPromoterSigner(project);
    promoterSigners.set(project, signer);
    signer.catch(() => promoterSigners.delete(project));
  }
  return signer;
}

async function loadTrustedPromoterSigner(project: Project): Promise<Signer> {
  const key = project.options.key ?? project.options.env.PROMOTE_KEY;
  let signer = project.options.signer;
  if (!signer) {
    if (!key) {
      throw new PromoteError('PROMOTER_KEY_MISSING', 'promotion records are signed, and no promoter key was given', {
        outcome: 'usage',
        hint: 'pass --key <private key> or set PROMOTE_KEY (promote keygen promoter creates one; its .pub belongs in trust.promotions)',
      });
    }
    signer = await loadKey(project, key);
  }
  const { requireTrustedSigner } = await import('../signing/trusted-signer.ts');
  requireTrustedSigner(signer, (await project.trust()).promotions, { list: 'trust.promotions', signs: 'promotion records', refusedBy: 'every agent', pipelineFile: project.pipeline.file, ...(!project.options.signer && key && { keyPath: key }) });
  return signer;
}

/** A private key file, relative to the caller's working directory (password: env or prompt). */
export async function loadKey(project: Project, key: string): Promise<Signer> {
  const { resolve } = await import('node:path');
  const { loadSigner } = await import('../signing/signer.ts');
  return loadSigner(resolve(project.options.cwd, key), { env: project.options.env, interactive: project.options.interactive ?? false });
}

/** Whether a promoter key is configured at all (`promote run` checks it once, up front, when it is). */
export function promoterKeyGiven(project: Project): boolean {
  return !!(project.options.signer ?? project.options.key ?? project.options.env.PROMOTE_KEY);
}

export async function signerFingerprint(signer: Signer): Promise<string> {
  const { keyFingerprint } = await import('../signing/trusted-signer.ts');
  return keyFingerprint(signer.publicKeyPem);
}
