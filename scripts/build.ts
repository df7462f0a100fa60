// `npm run build` (and so `npm pack`, through prepack): compile src/ to dist/ with tsc, then stamp
// dist/build-info.json. An installed package runs dist/ (bin/promote.js), never the sources.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { writeBuildInfo } from './build-info.ts';

const root = join(import.meta.dirname, '..');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const info = writeBuildInfo(root, join(root, 'dist', 'build-info.json'));
process.stderr.write(`built dist/ (promote ${info.version}, commit ${info.commit}${info.modified ? ', with uncommitted changes' : ''})\n`);
