// Runs `npm run demo` and puts its output (stderr and stdout, as a terminal shows them) into
// README.md between the DEMO OUTPUT markers, so the first screen shows what a newcomer will see.

import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const BEGIN = '<!-- BEGIN DEMO OUTPUT -->';
const END = '<!-- END DEMO OUTPUT -->';

const r = spawnSync('npm', ['run', 'demo'], { cwd: root, encoding: 'utf8', shell: false, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
if (r.status !== 0) throw new Error(`npm run demo exited ${r.status}: ${r.stderr}`);
// npm writes its banner to stdout, promote its story to stderr and the result to stdout.
const banner = r.stdout.slice(0, r.stdout.indexOf('\n\n') + 2);
// npm's own warnings about the local machine's npm config are not part of the demo.
const story = r.stderr.split('\n').filter((l) => !l.startsWith('npm warn')).join('\n');
const output = `$ npm run demo\n${banner}${story}${r.stdout.slice(banner.length)}`.replace(/\s+$/, '');
const readme = await readFile(join(root, 'README.md'), 'utf8');
const start = readme.indexOf(BEGIN);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error('README.md lacks the DEMO OUTPUT markers');
await writeFile(join(root, 'README.md'), `${readme.slice(0, start + BEGIN.length)}\n\`\`\`text\n${output}\n\`\`\`\n${readme.slice(end)}`);
console.log('README.md demo output rewritten');
