import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PromoteError } from '../errors.ts';

// The trusted root (Sigstore client spec: CAs, transparency logs, CT logs, TSAs) that keyless
// signatures and transparency-log entries are checked against. Default: the public-good root
// shipped inside @sigstore/tuf's seeds.json — verification never goes to the network (a TUF
// refresh would; that is the caller's choice, done by fetching a root and passing --trusted-root).

export type { TrustedRoot };

const PUBLIC_GOOD_TUF = 'https://tuf-repo-cdn.sigstore.dev';
let publicGood: TrustedRoot | undefined;

export function publicGoodTrustedRoot(): TrustedRoot {
  if (!publicGood) {
    const require = createRequire(import.meta.url);
    const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets: Record<string, string> }>;
    const encoded = seeds[PUBLIC_GOOD_TUF]?.targets['trusted_root.json'];
    if (!encoded) {
      throw new PromoteError('TRUSTED_ROOT_MISSING', 'the public-good trusted root is not in @sigstore/tuf seeds.json', {
        hint: 'reinstall promote, or pass --trusted-root <file> (a trusted_root.json)',
      });
    }
    publicGood = TrustedRoot.fromJSON(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')));
  }
  return publicGood;
}

/** A trusted root with nothing in it: only explicitly given keys are trusted. */
export function emptyTrustedRoot(): TrustedRoot {
  return TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] });
}

export function parseTrustedRoot(json: unknown, source = 'inline'): TrustedRoot {
  try {
    const root = TrustedRoot.fromJSON(json);
    if (!Array.isArray(root.tlogs) || !Array.isArray(root.certificateAuthorities)) throw new Error('no tlogs or certificateAuthorities');
    return root;
  } catch (err) {
    throw new PromoteError('TRUSTED_ROOT_INVALID', `trusted root ${source} is not a Sigstore trusted_root.json: ${(err as Error).message}`, {
      outcome: 'usage',
      hint: 'give a trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json), e.g. from `cosign trusted-root create` or the TUF repository',
    });
  }
}

export async function readTrustedRoot(path: string): Promise<TrustedRoot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PromoteError('TRUSTED_ROOT_NOT_FOUND', `cannot read trusted root ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      outcome: 'usage',
      hint: 'check the path given to --trusted-root',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PromoteError('TRUSTED_ROOT_INVALID', `trusted root ${path} is not JSON`, {
      outcome: 'usage',
      hint: 'give a trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json)',
    });
  }
  return parseTrustedRoot(json, path);
}
