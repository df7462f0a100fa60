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

// Memory (issue 12 §13): V8 sizes its heap from the machine's memory — on a 16 GiB laptop two
// 64 MiB semi-spaces for the young generation and an old one left to grow to several times what
// is live before it is collected — so reading a bundle of 99,000 entries peaked near 450 MiB
// where its live data is a quarter of that. The commands that read bundles run with a fixed
// young generation and V8's memory-saving heuristics instead (V8_MEMORY_FLAGS), which keeps them
// under the 256 MiB of src/bundle/limits.ts; V8 takes these only at start, so the process
// re-executes itself in place (same pid, same stdio; ~40 ms). A --max-semi-space-size the user
// gave (NODE_OPTIONS, node's own arguments) means they tune V8 themselves: left alone.
const V8_MEMORY_FLAGS = ['--max-semi-space-size=16', '--optimize-for-size'];
const READS_BUNDLES = new Set(['pull', 'inspect', 'render', 'verify', 'agent']);
if (
  READS_BUNDLES.has(process.argv[2] ?? '') &&
  typeof process.execve === 'function' &&
  process.platform !== 'win32' &&
  ![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'))
) {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...V8_MEMORY_FLAGS, process.argv[1], ...process.argv.slice(2)], process.env);
  } catch {
    // Not re-executed (a sandbox forbids execve): run as we are, with V8's own sizing.
  }
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href;
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
