import type { Command } from '../command.ts';

export const command: Command = {
  name: 'version',
  summary: 'print the version, the commit it was built from and the Node.js runtime',
  usage: 'promote version',
  description: `
The commit is stamped at build time (npm pack, npm run build, npm run build:binary) into
dist/build-info.json; run from a git checkout, it is the checkout's HEAD. "with uncommitted
changes" means tracked files differed from that commit. \`promote --version\` prints the same.`,
  positionals: { min: 0, max: 0 },
  examples: [
    { title: 'What is installed here', command: 'promote version' },
    { title: 'For a bug report or a CI log, as JSON', command: 'promote version --output json' },
  ],
  async run() {
    const { versionInfo, versionText } = await import('../../version.ts');
    const info = versionInfo();
    return { data: info, text: versionText(info) };
  },
};
