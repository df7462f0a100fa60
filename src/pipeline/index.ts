// The pipeline module's public surface: loading and validating pipelines, the gates, the planner.
export { findPipelineFile, listEnvironments, loadPipeline, parsePipeline, projectRoot, stageOrder } from './load.ts';
export { findStage, stageRepository } from './pipeline.ts';
export type { ApprovalGateSpec, ConvergedGateSpec, GateSpec, LedgerSpec, ManualGateSpec, Pipeline, SoakGateSpec, Stage, TrustEntry, TrustSpec, Weekday, WindowGateSpec } from './pipeline.ts';
export { identityKey, identityMatches } from './gate.ts';
export type { Approval, Gate, GateContext, GateKind, GateResult, StatusObservation } from './gate.ts';
export { createGate, GATE_KINDS } from './gates/index.ts';
export { isOpen, localTime, nextOpening } from './gates/window.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { assemblePlan, planOutcome } from './plan.ts';
export type { Blocker, CheckResult, Plan, PlanAction, PlanInput, StageView } from './plan.ts';
