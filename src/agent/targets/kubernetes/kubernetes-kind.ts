import { resolve } from 'node:path';
import { stringValue, type TargetKind } from '../target-kind.ts';

// `--target kubernetes`: a cluster through a kubeconfig or the in-cluster service account
// (kubernetes-target.ts, loaded only when asked for: @kubernetes/client-node is heavy).

export const kubernetesKind: TargetKind = {
  scheme: 'kubernetes',
  syntax: 'kubernetes',
  hint: 'kubernetes (kubeconfig or in-cluster service account)',
  help: `kubernetes uses server-side apply (field manager "promote"), CRDs and Namespaces first, an
inventory ConfigMap for pruning, and health by kind.`,
  options: {
    kubeconfig: { type: 'string', valueName: 'file', description: 'kubeconfig for --target kubernetes (default: KUBECONFIG, ~/.kube/config, then in-cluster)' },
    context: { type: 'string', valueName: 'name', description: 'kubeconfig context to use' },
    'inventory-namespace': { type: 'string', valueName: 'namespace', description: "namespace of the agent's inventory ConfigMap (default: the agent's own, else default)" },
    'force-conflicts': { type: 'boolean', description: 'take fields other field managers own (server-side apply force); off by default' },
  },
  async open(_rest, { cwd, options }) {
    const kubeconfig = stringValue(options, 'kubeconfig');
    const context = stringValue(options, 'context');
    const inventoryNamespace = stringValue(options, 'inventory-namespace');
    const { KubernetesTarget } = await import('./kubernetes-target.ts');
    return await KubernetesTarget.create({
      ...(kubeconfig && { kubeconfig: resolve(cwd, kubeconfig) }),
      ...(context && { context }),
      ...(inventoryNamespace && { inventoryNamespace }),
      ...(options['force-conflicts'] === true && { force: true }),
    });
  },
};
