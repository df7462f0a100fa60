import { resolve } from 'node:path';
import { targetUsage, type TargetKind } from './target-kind.ts';

// `--target dir:<path>[?adopt=true]`: a directory on a host (dir-target.ts).

export const dirKind: TargetKind = {
  scheme: 'dir',
  takesRest: true,
  syntax: 'dir:<path>',
  help: `dir:<path> writes the rendered files atomically and prunes files it no longer owns; a file
there that it did not write is never overwritten or deleted (Failed, reason Conflict) unless
--adopt (or dir:<path>?adopt=true) lets it take such files over.`,
  options: {
    adopt: {
      type: 'boolean',
      description: 'dir targets: take over rendered files that exist but the agent did not write (also dir:<path>?adopt=true); reported',
      refusedElsewhere: 'on Kubernetes, objects other field managers apply are taken over only with --force-conflicts',
    },
  },
  async open(rest, { cwd, options }) {
    let path = rest;
    let adopt = options.adopt === true;
    const query = /\?adopt=(true|false)$/.exec(path);
    if (query) {
      path = path.slice(0, query.index);
      adopt ||= query[1] === 'true';
    } else if (path.includes('?')) {
      throw targetUsage(`--target dir:${rest}: the only option of a dir target is ?adopt=true`, 'e.g. --target dir:/srv/webapp?adopt=true, or --adopt');
    }
    if (!path) throw targetUsage('--target dir: needs a path', 'e.g. --target dir:/srv/webapp');
    const { DirTarget } = await import('./dir-target.ts');
    return new DirTarget(resolve(cwd, path), { adopt });
  },
};
