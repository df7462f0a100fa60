import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';

export const command: Command = {
  name: 'build',
  summary: 'build a bundle directory into a reproducible OCI artefact and print its digest',
  usage: 'promote build [dir] [--oci-layout <dir> [--tag <tag>]] [options]',
  description: `
Walks the bundle directory (default: the current one; it must hold bundle.yaml), honouring
.promoteignore (gitignore syntax; .git/ is always left out), and packs it reproducibly: sorted
entries, owner 0, no times, modes 0644/0755, fixed gzip settings. The same tree gives the same
digest on any machine. The "created" time comes from SOURCE_DATE_EPOCH or the last git commit
of the directory, never the clock. Symbolic links are stored as the file they point at, and only
if that file is inside the bundle. Nothing is written unless --oci-layout is given.`,
  positionals: { min: 0, max: 1 },
  options: {
    'oci-layout': { type: 'string', valueName: 'dir', description: 'also store the artefact in this OCI image layout directory (created if missing)' },
    tag: { type: 'string', short: 't', valueName: 'tag', description: 'tag in the OCI layout (with --oci-layout)' },
    'bundle-version': { type: 'string', valueName: 'version', description: 'set org.opencontainers.image.version (e.g. 1.4.0)' },
  },
  examples: [
    { title: 'Print the digest of the bundle in the current directory', command: 'promote build' },
    { title: 'Build a bundle and keep it in a local OCI layout, tagged', command: 'promote build ./webapp --oci-layout ./.promote/registry/webapp --tag 1.4.0' },
    { title: 'Reproduce a CI build exactly (same created time, same digest)', command: 'SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) promote build ./webapp' },
    { title: 'Digest, size and file count for a script', command: 'promote build ./webapp --output json' },
  ],
  async run(ctx, args) {
    const { build } = await import('../../bundle/build.ts');
    const ociLayout = stringOption(args, 'oci-layout');
    const tag = stringOption(args, 'tag');
    if (tag !== undefined && ociLayout === undefined) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', '--tag needs --oci-layout', { outcome: 'usage', hint: 'to tag in a registry, use `promote push <dir> <repository>:<tag>`' });
    }
    ctx.progress('building…');
    const version = stringOption(args, 'bundle-version');
    const summary = await build(args.positionals[0] ?? '.', {
      cwd: ctx.cwd,
      env: ctx.env,
      ...(ociLayout !== undefined && { ociLayout }),
      ...(tag !== undefined && { tag }),
      ...(version !== undefined && { version }),
    });
    if (summary.reference) ctx.log(`stored ${summary.reference}`);
    return { data: summary, text: summary.digest };
  },
};
