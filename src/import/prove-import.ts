import { join } from 'node:path';
import { wrapError } from '../errors.ts';
import { renderEnvironment } from '../bundle/render-environment.ts';
import { compareEnvironment, type EnvironmentComparison } from './compare-objects.ts';
import type { ImportEnvironment } from './import-input.ts';
import type { ImportPlan } from './plan-import.ts';

// The proof of an import (issue 16): the project as written is rendered for every environment —
// by the same code `promote render` and the agent use, from the files on disk, not from the plan —
// and compared object by object with what that environment's copy rendered.

export interface ImportProof {
  environments: EnvironmentComparison[];
  /** Every environment renders what its copy did (secrets withheld aside). */
  equivalent: boolean;
}

/** Renders the project written at `dir` for each environment and compares it with `input`. */
export async function proveImport(dir: string, plan: ImportPlan, input: readonly ImportEnvironment[]): Promise<ImportProof> {
  const environments: EnvironmentComparison[] = [];
  for (const env of input) {
    let documents: unknown[];
    try {
      const rendered = await renderEnvironment({ bundleDir: join(dir, plan.bundleDir), root: dir, environment: env.name });
      documents = rendered.files.flatMap((f) => (f.kind === 'manifest' ? (f.documents ?? []) : []));
    } catch (err) {
      throw wrapError(err, `the imported bundle does not render for environment "${env.name}"`);
    }
    const withheld = plan.withheld.filter((w) => w.environment === env.name);
    environments.push(compareEnvironment(env.name, env.objects.map((o) => o.value), documents, withheld));
  }
  return { environments, equivalent: environments.every((e) => e.equivalent) };
}
