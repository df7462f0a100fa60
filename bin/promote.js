#!/usr/bin/env node
// Entry point. In a checkout, Node runs the TypeScript sources directly; an installed package has
// no src/ (Node refuses to strip types under node_modules) and runs the compiled dist/.
import { existsSync } from 'node:fs';
import module from 'node:module';

// The oldest Node of each line that promote's dependencies support (package.json `engines`:
// @sigstore/* and @npmcli/* need 22.22.2 or 24.15.0). This file parses on any Node, so an old
// one gets this line instead of a syntax error deep in a dependency.
const [major, minor, patch] = process.versions.node.split('.').map(Number);
const tooOld = major < 22 || major === 23 || (major === 22 && (minor < 22 || (minor === 22 && patch < 2))) || (major === 24 && minor < 15);
if (tooOld) {
  process.stderr.write(
    `error: promote needs Node.js 24.15 or newer (or 22.22.2 or newer on 22); this is ${process.version}\n` +
      'hint: install a current Node.js, or use the single executable (dist/promote-linux-x64, no Node needed); in a checkout, run it through npm (npm run -s promote -- <args>), which uses the pinned Node 24\n',
  );
  process.exit(1);
}

// `npm run promote -- <args>` starts scripts in the package root; the user's relative paths are
// relative to where they typed it, which npm keeps in INIT_CWD.
if (process.env.npm_lifecycle_event === 'promote' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

// Start-up is part of the product (`promote --help` ≤ 1.5× `node -e 0`): Node's on-disk compile
// cache keeps the compiled (and type-stripped) modules between runs.
module.enableCompileCache?.();

const fromSource = existsSync(new URL('../src/cli/main.ts', import.meta.url));
const cli = (name) => new URL(fromSource ? `../src/cli/${name}.ts` : `../dist/cli/${name}.js`, import.meta.url).href;

// The commands that read a bundle run with fixed V8 heap sizing: src/cli/v8-memory-flags.ts.
const memory = await import(cli('v8-memory-flags'));
memory.allowMemoryReexec();
if (memory.READS_BUNDLES.has(process.argv[2] ?? '')) memory.reexecWithMemoryFlags();

const { main } = await import(cli('main'));
process.exitCode = await main(process.argv.slice(2));
