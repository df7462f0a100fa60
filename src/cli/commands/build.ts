import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';

export const command: Command = {
  name: 'build',
  summary: 'build a bundle directory into a reproducible OCI artefact and print its digest',
  usage: 'promote build [dir] [--oci-layout <dir> [--tag <tag>]] [options]',
  description: `
Walks the bundle directory (default: the current one; it must hold bundle.yaml), leaving out
what git ignores (.gitignore; a tracked file is never left out) and what .promoteignore
excludes (gitignore syntax; its !rules re-include git-ignored paths; .git/ is always left out),
and says on stderr what it left out and why. It refuses a manifest that is not UTF-8 or not
valid YAML (file:line:column), a Secret carrying data anywhere in the bundle, and anything over
the limits \`promote pull\` enforces (README "Bundles"). It packs reproducibly: sorted
entries, owner 0, no times, modes 0644/0755, fixed gzip settings. The same tree gives the same
digest on any machine. The "created" time comes from SOURCE_DATE_EPOCH or the last git commit
of the directory, never the clock; "source" only from --source or PROMOTE_SOURCE, never from
the clone's remote (the digest must not depend on how the repository was cloned). Symbolic
links are stored as the file they point at, and only if that file is inside the bundle.
Nothing is written unless --oci-layout is given.`,
  positionals: { min: 0, max: 1 },
  options: {
    'oci-layout': { type: 'string', valueName: 'dir', description: 'also store the artefact in this OCI image layout directory (created if missing)' },
    tag: { type: 'string', short: 't', valueName: 'tag', description: 'tag in the OCI layout (with --oci-layout)' },
    'bundle-version': { type: 'string', valueName: 'version', description: 'set org.opencontainers.image.version (e.g. 1.4.0)' },
    source: { type: 'string', valueName: 'url', description: 'set org.opencontainers.image.source (default: $PROMOTE_SOURCE; never the clone URL); credentials are removed' },
  },
  examples: [
    { title: 'Print the digest of the bundle in the current directory', command: 'promote build' },
    { title: 'Build a bundle and keep it in a local OCI layout, tagged', command: 'promote build ./webapp --oci-layout ./.promote/registry/webapp --tag 1.4.0' },
    { title: 'Reproduce a CI build exactly (same created time, same digest)', command: 'SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) promote build ./webapp' },
    { title: 'Digest, size and file count for a script', command: 'promote build ./webapp --output json' },
  ],
  async run(ctx, args) {
    const { build } = await import('../../artifact/build.ts');
    const ociLayout = stringOption(args, 'oci-layout');
    const tag = stringOption(args, 'tag');
    if (tag !== undefined && ociLayout === undefined) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', '--tag needs --oci-layout', { outcome: 'usage', hint: 'to tag in a registry, use `promote push <dir> <repository>:<tag>`' });
    }
    ctx.progress('building…');
    const version = stringOption(args, 'bundle-version');
    const source = stringOption(args, 'source');
    const summary = await build(args.positionals[0] ?? '.', {
      cwd: ctx.cwd,
      env: ctx.env,
      ...(ociLayout !== undefined && { ociLayout }),
      ...(tag !== undefined && { tag }),
      ...(version !== undefined && { version }),
      ...(source !== undefined && { source }),
    });
    if (summary.reference) ctx.log(`stored ${summary.reference}`);
    // What was left out goes beside the digest (stdout stays the digest alone, for scripts).
    const shown = summary.excluded.slice(0, 20);
    for (const e of shown) {
      const why = e.reason === 'gitignore' ? 'git ignores it' : '.promoteignore excludes it';
      ctx.log(`left out ${e.path}${e.type === 'directory' ? '/' : ''}: ${why}${e.rule ? ` (${e.rule})` : ''}`);
    }
    if (summary.excluded.length > shown.length) ctx.log(`… and ${summary.excluded.length - shown.length} more left out (all of them in --output json, "excluded")`);
    return { data: summary, text: summary.digest };
  },
};
