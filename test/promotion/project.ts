import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRegistry } from '../../src/oci/open.ts';
import type { Registry } from '../../src/oci/registry.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { encryptCosignKey } from '../../src/signing/cosign-key-file.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { generateSigningKeyPair } from '../../src/signing/keys.ts';
import { LocalKeySigner } from '../../src/signing/signer.ts';
import { bareRemote, isolatedEnv } from './git-env.ts';

// A whole promote project on disk for the engine's integration tests: a bundle source, three
// environments, a pipeline whose ledger is a bare git repository (the remote) and whose
// repository is a real registry, and real keys (CI signs bundles, the promoter signs records).

export const FIXTURE = fileURLToPath(new URL('../fixtures/bundle-small', import.meta.url));

export interface TestProject {
  dir: string;
  ledgerRemote: string;
  repository: string;
  env: NodeJS.ProcessEnv;
  ci: LocalKeySigner;
  promoter: LocalKeySigner;
  /** A key nobody trusts. */
  stranger: LocalKeySigner;
  /** The agents' key (trusted for status reports when created with `agents: true`). */
  agent: LocalKeySigner;
  /** Path of the promoter's encrypted private key (password ""), for CLI runs. */
  promoterKeyFile: string;
  /** Alex, listed in trust.approvers with the promoter Pat (unless created with `unsignedApprovals`). */
  approver: LocalKeySigner;
  approverKeyFile: string;
  /** The stranger's private key file: trusted for nothing. */
  strangerKeyFile: string;
  registry: Registry;
  /** Builds bundle variant `n` (a different digest each), pushes it, signs it with `signer` unless null. */
  push(n: number, signer?: LocalKeySigner | null, schema?: object): Promise<string>;
}

const ENVIRONMENTS: Record<string, string[]> = { dev: ['dev-1'], staging: ['staging-eu-1', 'staging-us-1'], production: ['prod-eu-1'] };

export const PIPELINE = (repository: string, ledger: string, productionGates: string, agents = false, productionRepository = '', approvers = true) => `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: ${repository}
${ledger ? `  ledger: {repository: ${ledger}, branch: main}\n` : ''}  trust:
    bundles: [keys/ci.pub]
    promotions: [keys/promoter.pub]${agents ? '\n    agents: [keys/agent.pub]' : ''}${approvers ? '\n    approvers: [{key: keys/approver.pub, name: Alex, email: alex@example.com}, {key: keys/promoter.pub, name: Pat, email: pat@example.com}]' : ''}
  stages:
    - {name: dev, environment: dev, promotion: auto}
    - name: staging
      environment: staging
      from: dev
      promotion: auto
      gates: [{converged: {}}, {soak: 15m}]
    - name: production
      environment: production
      from: staging${productionRepository ? `\n      repository: ${productionRepository}` : ''}
      gates: ${productionGates}
`;

export const PRODUCTION_GATES = '[{converged: {}}, {approval: {count: 1, separateDuties: true}}, {window: {days: [Mon, Tue, Wed, Thu, Fri], hours: "09:00-16:00", timezone: Europe/Berlin}}]';

export async function createProject(dir: string, registryHost: string, options: { productionGates?: string; insecure?: boolean; name?: string; agents?: boolean; localLedger?: boolean; productionRepository?: string; unsignedApprovals?: boolean; fixture?: string } = {}): Promise<TestProject> {
  const env = { ...isolatedEnv(dir, { name: 'Pat', email: 'pat@example.com' }), PROMOTE_PASSWORD: '' };
  const ledgerRemote = await bareRemote(dir, env);
  const project = join(dir, 'project');
  await mkdir(join(project, 'environments'), { recursive: true });
  await mkdir(join(project, 'pipelines'));
  await mkdir(join(project, 'keys'));
  await cp(options.fixture ?? FIXTURE, join(project, 'bundle'), { recursive: true });
  for (const [name, clusters] of Object.entries(ENVIRONMENTS)) {
    await writeFile(join(project, 'environments', `${name}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${name}}\nspec:\n  parameters: {namespace: ${name}, replicas: ${name === 'production' ? 3 : 1}}\n  clusters:\n${clusters.map((c) => `    - name: ${c}\n`).join('')}`);
  }
  const repository = `${registryHost}/acme/${options.name ?? 'webapp'}`;
  await writeFile(join(project, 'pipelines', 'webapp.yaml'), PIPELINE(repository, options.localLedger ? '' : ledgerRemote, options.productionGates ?? PRODUCTION_GATES, options.agents, options.productionRepository, !options.unsignedApprovals));
  const signer = () => new LocalKeySigner(generateSigningKeyPair().privateKey);
  const ci = signer();
  const promoterPair = generateSigningKeyPair();
  const promoter = new LocalKeySigner(promoterPair.privateKey);
  const strangerPair = generateSigningKeyPair();
  const stranger = new LocalKeySigner(strangerPair.privateKey);
  const approverPair = generateSigningKeyPair();
  const approver = new LocalKeySigner(approverPair.privateKey);
  const agent = signer();
  await writeFile(join(project, 'keys', 'agent.pub'), agent.publicKeyPem);
  await writeFile(join(project, 'keys', 'ci.pub'), ci.publicKeyPem);
  await writeFile(join(project, 'keys', 'promoter.pub'), promoter.publicKeyPem);
  await writeFile(join(project, 'keys', 'approver.pub'), approver.publicKeyPem);
  const keyFile = async (name: string, pair: ReturnType<typeof generateSigningKeyPair>) => {
    const file = join(project, 'keys', `${name}.key`);
    await writeFile(file, await encryptCosignKey(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), '', { N: 32768, r: 8, p: 1 }));
    return file;
  };
  const [promoterKeyFile, approverKeyFile, strangerKeyFile] = await Promise.all([keyFile('promoter', promoterPair), keyFile('approver', approverPair), keyFile('stranger', strangerPair)]);
  const registryOptions = { insecure: options.insecure ?? true, env };
  const registry = await openRegistry(repository, registryOptions);
  return {
    dir: project,
    ledgerRemote,
    repository,
    env,
    ci,
    promoter,
    stranger,
    agent,
    promoterKeyFile,
    approver,
    approverKeyFile,
    strangerKeyFile,
    registry,
    async push(n, signBy = ci, schema) {
      const src = join(dir, `bundle-${n}`);
      await cp(options.fixture ?? FIXTURE, src, { recursive: true });
      await writeFile(join(src, 'files', 'variant.txt'), `variant ${n}\n`);
      if (schema) await writeFile(join(src, 'params.schema.json'), JSON.stringify(schema, null, 2));
      const pushed = await pushBundle(src, `${repository}:v${n}`, { ...registryOptions, env: { ...env, SOURCE_DATE_EPOCH: String(1_700_000_000 + n) } });
      const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
      if (signBy) await signBundle(registry, digest, signBy, repository);
      return digest;
    },
  };
}

