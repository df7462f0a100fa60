// The promotion module's public surface: the engine, the ledger, records and status reports.
export { approveCommand, historyCommand, verifyHistoryCommand, holdCommand, planCommand, rollbackCommand, runCommand, toCommand } from './actions.ts';
export type { PlanWithDiff, ProjectOptions } from './actions.ts';
export { approve, history, historyItem, openProject, planStage, printablePlan, promoteTo, refusal, rollback, runLoop, runOnce, setHold, sourceRepository, RECORD_DIGEST_ANNOTATION } from './engine.ts';
export type { ApproveResult, DetailedPlan, EngineOptions, HistoryItem, HoldResult, PlanRequest, Project, PromoteResult, RollbackRequest, RunStageOutcome, ToRequest } from './engine.ts';
export { GitLedger, commitMessage, renderStageState } from './ledger.ts';
export type { CommitResult, GitIdentity, HistoryEntry, LedgerChange, LedgerOptions, Mutation } from './ledger.ts';
export { approvalMutation, holdMutation, promotionMutation, stageMoved } from './changes.ts';
export { canonicalJson, emptyStageState, recordDigest, stagePath } from './record.ts';
export type { HoldState, PromotionAction, PromotionRecord, StageState } from './record.ts';
export { publishStatusReport, readStatusReport, readStatusReports, statusTag } from './status-reports.ts';
export { planDiff } from './plan-diff.ts';
export { changedParameters, parameterDifferences } from './parameter-diff.ts';
export type { ClusterDiff, PlanDiff } from './plan-diff.ts';
export type { ParameterChange, ParameterDifference } from './parameter-diff.ts';
export { DEFAULT_VERIFY_LIMIT, verifyHistory } from './verify-history.ts';
export type { HistoryCheck, HistoryVerification, VerifiedRecordEntry, VerifyHistoryOptions } from './verify-history.ts';
export { stageSummaries } from './stage-status.ts';
export type { StageSummary } from './stage-status.ts';
