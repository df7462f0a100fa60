import { execFile } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PromoteError } from '../errors.ts';
import { bundleFiles, type ScaffoldRenderer } from './scaffold-bundles.ts';

export type { ScaffoldRenderer };

// `promote init [dir]`: a project that is valid the moment it exists — one bundle (bundle.yaml,
// a parameter schema, manifests that use it), three environments, a pipeline between them, the
// four key pairs the pipeline trusts, and a local ledger. It has the same shape as the example
// at the top of the promote repository, so `promote demo --project <dir>` runs on it unchanged.
// `--helm` / `--kustomize` make the bundle a chart / a kustomization (docs/renderers.md) taking
// the same parameters, so the environments and the pipeline are the same for all three.

const run = promisify(execFile);

export interface InitOptions {
  dir: string;
  /** Bundle and pipeline name (a DNS label); default: the directory's name, else `app`. */
  name?: string;
  /** Asked for only once init knows it will write (after the overwrite check). */
  password: () => Promise<string>;
  /** Overwrite files that exist. */
  force?: boolean;
  /** What renders the bundle (default plain manifests). */
  renderer?: ScaffoldRenderer;
}


export interface InitResult {
  dir: string;
  name: string;
  renderer: ScaffoldRenderer;
  /** Paths relative to dir, in the order written. */
  files: string[];
  keys: string[];
  ledger: string;
  overwritten: string[];
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function defaultName(dir: string): string {
  const base = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
  return NAME_RE.test(base) ? base : 'app';
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

const KEYS = ['ci', 'promoter', 'agent', 'approver'] as const;

/** The environments, the pipeline and .gitignore: the same whatever renders the bundle. */
function projectFiles(name: string): Record<string, string> {
  return {
    'environments/dev.yaml': `apiVersion: promote/v1
kind: Environment
metadata:
  name: dev
spec:
  parameters:
    namespace: ${name}-dev
    logLevel: debug
  clusters:
    - name: dev-1
`,
    'environments/staging.yaml': `apiVersion: promote/v1
kind: Environment
metadata:
  name: staging
spec:
  parameters:
    namespace: ${name}-staging
    replicas: 2
  clusters:
    - name: staging-1
    - name: staging-2
`,
    'environments/production.yaml': `apiVersion: promote/v1
kind: Environment
metadata:
  name: production
spec:
  parameters:
    namespace: ${name}
    replicas: 3
    logLevel: warn
  clusters:
    - name: prod-1
    - name: prod-2
      parameters: {replicas: 5}   # per-cluster override, validated like the rest
`,
    [`pipelines/${name}.yaml`]: `# The registry, ledger and clusters start on promote's embedded defaults (an OCI layout, a
# local git repository and directories under .promote/), so everything runs without a server:
#   promote validate && promote demo
# For real use: repository: registry.example.com/acme/${name}, ledger.repository: a git remote,
# agents with --target kubernetes; and gates sized for people, e.g. soak: 15m for staging,
# soak: 1h and window: {days: [Mon, Tue, Wed, Thu], hours: "09:00-16:00", timezone: Europe/Berlin}
# for production. The soaks below are seconds so that \`promote demo\` finishes quickly.
apiVersion: promote/v1
kind: Pipeline
metadata:
  name: ${name}
spec:
  repository: oci:./.promote/registry/${name}
  ledger:
    repository: ./.promote/ledger
    branch: main
  trust:
    bundles: [keys/ci.pub]
    promotions: [keys/promoter.pub]
    agents: [keys/agent.pub]
    approvers: [keys/approver.pub]    # or {key: keys/alex.pub, name: Alex, email: alex@example.com}
  stages:
    - name: dev
      environment: dev
      promotion: auto
    - name: staging
      environment: staging
      from: dev
      gates: [{converged: {}}, {soak: 1s}]
    - name: production
      environment: production
      from: staging
      gates:
        - converged: {}
        - soak: 1s
        - approval: {count: 1, separateDuties: true}
`,
    '.gitignore': `# promote's local state: OCI layout registry, ledger, directory clusters, caches
.promote/
# private keys never go into git (the .pub files do)
keys/*.key
`,
  };
}

export async function initProject(options: InitOptions): Promise<InitResult> {
  const dir = resolve(options.dir);
  const name = options.name ?? defaultName(dir);
  if (!NAME_RE.test(name)) {
    throw new PromoteError('INIT_NAME_INVALID', `"${name}" cannot name a bundle and pipeline`, { outcome: 'usage', hint: 'use lower-case letters, digits and "-" (at most 63), e.g. --name webapp' });
  }
  const renderer = options.renderer ?? 'plain';
  const content = { ...bundleFiles(name, renderer), ...projectFiles(name) };
  const keyFiles = KEYS.flatMap((k) => [`keys/${k}.key`, `keys/${k}.pub`]);
  const all = [...Object.keys(content), ...keyFiles];
  const present: string[] = [];
  for (const f of all) if (await exists(join(dir, f))) present.push(f);
  if (present.length && !options.force) {
    throw new PromoteError('INIT_FILES_EXIST', `${dir} already has ${present.length === 1 ? 'a file' : `${present.length} files`} promote init would write: ${present.join(', ')}`, {
      outcome: 'usage',
      hint: 'init into a new or empty directory, or pass --force to overwrite exactly these files (nothing else is touched)',
      details: { files: present },
    });
  }
  const password = await options.password();
  for (const [rel, text] of Object.entries(content)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  const { generateKeyFiles } = await import('../signing/keygen.ts');
  await mkdir(join(dir, 'keys'), { recursive: true });
  await Promise.all(KEYS.map((k) => generateKeyFiles(join(dir, 'keys', k), { password, force: options.force === true })));
  const ledger = join(dir, '.promote', 'ledger');
  if (!(await exists(join(ledger, '.git')))) {
    await mkdir(ledger, { recursive: true });
    await run('git', ['init', '-q', '-b', 'main', ledger]);
  }
  return { dir, name, renderer, files: Object.keys(content), keys: keyFiles, ledger: '.promote/ledger', overwritten: present };
}
