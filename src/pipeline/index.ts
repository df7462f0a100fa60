// The pipeline module's public surface: loading and validating pipelines, the gates, the planner.
export { findPipelineFile, listEnvironments, loadPipeline, parsePipeline, projectRoot, stageOrder } from './load.ts';
export { findStage, stageRepository } from './pipeline.ts';
export type { LedgerSpec, Pipeline, Stage, TrustEntry, TrustSpec } from './pipeline.ts';
export type { GateSpec } from './gates/kinds.ts';
export type { ApprovalGateSpec } from './gates/approval.ts';
export type { ConvergedGateSpec } from './gates/converged.ts';
export type { ManualGateSpec } from './gates/manual.ts';
export type { SoakGateSpec } from './gates/soak.ts';
export type { Weekday, WindowGateSpec } from './gates/window.ts';
export { identityKey, identityMatches, memoiseFacts } from './gate.ts';
export type { Approval, GateContext, GateFacts, GateKind, GateResult, StatusObservation } from './gate.ts';
export { gateKind, GATE_KINDS } from './gates/kinds.ts';
export { evaluateGates } from './gates/evaluate.ts';
export { isOpen, localTime, nextOpening } from './gates/window.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { assemblePlan, planOutcome } from './plan.ts';
export type { Blocker, CheckResult, Plan, PlanAction, PlanInput, StageView } from './plan.ts';
