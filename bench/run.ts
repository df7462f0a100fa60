// `npm run bench`: runs every bench/*.bench.ts in its own process, one after another, so each
// measures on a quiet machine. Each prints its own table of ratios against a peer measured in
// the same run (absolute times drift 2x between runs here: REGISTRY-NOTES.md).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  // A name picks the benches it begins: `ui` is ui.bench.ts, not build.bench.ts; `render` both render benches.
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
let failed = 0;
for (const f of files) {
  process.stdout.write(`\n== ${f}\n`);
  const r = spawnSync(process.execPath, [`${dir}${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
