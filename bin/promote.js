#!/usr/bin/env node
// Entry point. In a checkout, Node (>= 22.19) runs the TypeScript sources directly; an installed
// package has no src/ (Node refuses to strip types under node_modules) and runs the compiled dist/.
import { existsSync } from 'node:fs';
import module from 'node:module';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `error: promote needs Node.js 22.19 or newer; this is ${process.version}\n` +
      'hint: in a checkout, run it through npm (npm run promote -- <args>), which uses the pinned Node 24\n',
  );
  process.exit(1);
}

// Start-up is part of the product (`promote --help` ≤ 1.5× `node -e 0`): Node's on-disk compile
// cache keeps the compiled (and type-stripped) modules between runs.
module.enableCompileCache?.();

const source = new URL('../src/cli/main.ts', import.meta.url);
const entry = existsSync(source) ? source.href : new URL('../dist/cli/main.js', import.meta.url).href;
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
