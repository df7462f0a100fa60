// The agent module's public surface: the Target seam and its two targets, one reconcile round,
// the loop, the real desired-state source and status reporter.
// Importing this file loads no Kubernetes code: KubernetesTarget is reached through
// `openTarget('kubernetes', …)` (targets/open-target.ts) or its own module, so @kubernetes/client-node stays lazy.
export type {
  ApplyOptions, ApplyResult, DesiredState, DriftedObject, HealthOptions, HealthResult, ObjectAction, ObjectHealth, ObjectResult, Observation, Owner, PruneResult, RenderedFile, Target,
} from './target.ts';
export { DirTarget } from './targets/dir-target.ts';
export { INVENTORY_FILE } from './targets/dir-inventory.ts';
export { writeFileAtomic } from './write-file-atomic.ts';
export type { KubernetesTargetOptions } from './targets/kubernetes/kubernetes-target.ts';
export { Reconciler } from './reconcile.ts';
export { reasonFromCode } from './round-verdict.ts';
export type { AgentPhase, AgentStatus, DesiredSource, ObjectSummary, ReconcilerOptions, RoundResult, StatusReporter } from './reconcile.ts';
export { AgentMetrics, nextDelay, runAgentLoop } from './loop.ts';
export type { AgentLoopOptions } from './loop.ts';
export { RegistryDesiredSource } from './registry-source.ts';
export type { RegistrySourceOptions } from './registry-source.ts';
export { RegistryStatusReporter, toPredicate } from './status-reporter.ts';
export { parseAddress, runAgent } from './agent.ts';
export { openTarget } from './targets/open-target.ts';
export type { AgentOptions } from './agent.ts';
