import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { COMMANDS } from '../../src/cli/main.ts';
import { REGISTRY_OPTIONS } from '../../src/cli/registry-options.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { promote } from './run-promote.ts';

// Every command that reaches a registry takes the same registry options (issue 11 §5): a TLS
// error that tells the user to pass --insecure or --ca-file must not be followed by "Unknown
// option '--insecure'". Checked through the real CLI's --help for every command, and by
// rendering a bundle from a real registry behind TLS.

/** Commands that open a registry (or an OCI layout) and so must take --insecure, --ca-file, … */
const REACHES_REGISTRY = ['push', 'pull', 'inspect', 'copy', 'sign', 'verify', 'render', 'plan', 'to', 'approve', 'run', 'hold', 'release', 'rollback', 'history', 'status', 'agent', 'demo', 'ui'];
/** Commands that never do: files on disk and git only. */
const LOCAL_ONLY = ['build', 'keygen', 'validate', 'diff-env', 'init', 'import', 'completion', 'version'];

test('every command is classified as reaching a registry or not, and each that does lists the registry options in --help', async () => {
  // A new command must choose a side here.
  assert.deepEqual([...REACHES_REGISTRY, ...LOCAL_ONLY].sort(), Object.keys(COMMANDS).sort());
  const flags = Object.keys(REGISTRY_OPTIONS).map((n) => `--${n}`);
  const missing: string[] = [];
  await Promise.all(REACHES_REGISTRY.map(async (name) => {
    const r = await promote([name, '--help']);
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    for (const flag of flags) if (!new RegExp(`^\\s+(?:-\\w, )?${flag}\\b`, 'm').test(r.stdout)) missing.push(`${name} ${flag}`);
  }));
  assert.deepEqual(missing.sort(), []);
});

let registry: RegistryServer;
let work: string;
let reference: string;
before(async () => {
  registry = await startRegistry({ tls: true });
  work = await mkdtemp(join(tmpdir(), 'promote-registry-options-'));
  await cp(fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url)), join(work, 'src'), { recursive: true });
  const pushed = await pushBundle(join(work, 'src'), `${registry.host}/acme/podinfo:1.0.0`, { caFile: registry.caFile! });
  reference = pushed.reference;
});
after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('render of a bundle in a TLS registry: the TLS error names --ca-file/--insecure, and render takes both', async () => {
  const args = ['render', reference, '--env', 'staging', '--root', 'src'];
  const refused = await promote(args, { cwd: work });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /--ca-file|--insecure/, 'the TLS error says what to pass');

  const trusted = await promote([...args, '--ca-file', registry.caFile!], { cwd: work });
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.match(trusted.stdout, /^# Source: /m);

  const insecure = await promote([...args, '--insecure', '--output', 'json'], { cwd: work });
  assert.equal(insecure.code, 0, insecure.stderr);
  assert.equal(JSON.parse(insecure.stdout).reference, reference);
  assert.equal(insecure.stdout.includes('# Source:'), false, 'JSON output carries no stream');
});
