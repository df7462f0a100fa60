import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { PromoteError } from '../../errors.ts';

// Where a renderer's binary is (issue 15): the variable that names it (PROMOTE_HELM,
// PROMOTE_KUSTOMIZE) else the tool's name on PATH. Resolved to an absolute path once, so the
// path run is the path recorded and shown. A PROMOTE_KUSTOMIZE that names a kubectl is run as
// `kubectl kustomize` (kubectl embeds kustomize); kubectl is never looked up on PATH for it, since
// the kubectl on a machine may belong to something else.

export interface FoundBinary {
  path: string;
  /** Arguments that come before the tool's own (`kustomize` for a kubectl). */
  prefix: string[];
}

export interface BinaryWanted {
  /** `helm`, `kustomize`. */
  tool: string;
  variable: string;
  /** The bundle's renderer, for the message (`helm (bundle.yaml spec.helm)`). */
  renderer: string;
  install: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Basenames run with a prefix: `{kubectl: ['kustomize']}`. */
  aliases?: Record<string, string[]>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function findBinary(want: BinaryWanted): FoundBinary {
  const named = want.env[want.variable];
  const withPrefix = (path: string): FoundBinary => {
    const name = basename(path).replace(/\.exe$/i, '');
    const alias = Object.entries(want.aliases ?? {}).find(([a]) => name === a || name.startsWith(`${a}-`) || name.startsWith(`${a}.`));
    return { path, prefix: alias ? alias[1] : [] };
  };
  if (named !== undefined && named !== '') {
    const path = isAbsolute(named) ? named : resolve(named);
    if (executable(path)) return withPrefix(path);
    missing(want, `${want.variable}=${named} is not an executable file`);
  }
  const dirs = (want.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const path = join(dir, want.tool);
    if (executable(path)) return { path: resolve(path), prefix: [] };
  }
  missing(want, `${want.variable} is not set and there is no ${want.tool} on PATH`);
}

function missing(want: BinaryWanted, why: string): never {
  throw new PromoteError('RENDERER_MISSING', `the bundle's renderer is ${want.renderer}, but ${why}`, {
    outcome: 'failed',
    hint: `${want.install}; or set ${want.variable} to its absolute path. Nothing was rendered or applied`,
    details: { renderer: want.tool, variable: want.variable },
  });
}
