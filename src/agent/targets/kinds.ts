import type { TargetKind } from './target-kind.ts';
import { dirKind } from './dir-kind.ts';
import { kubernetesKind } from './kubernetes/kubernetes-kind.ts';

// Every kind of target the agent can converge, in the order --help lists them. Adding a kind:
// its own file (a TargetKind) and one entry here.
export const TARGET_KINDS: readonly TargetKind[] = [kubernetesKind, dirKind];
