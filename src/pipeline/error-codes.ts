import type { CodeTable } from '../errors.ts';

// The error codes of pipeline/ (pipelines, stages and the planner): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const pipelineErrorCodes = {
  BUNDLE_NOT_VERIFIED: { meaning: 'the candidate bundle\'s signature did not verify', outcome: 'verification' },
  CANDIDATE_NOT_IN_FROM: { meaning: 'the bundle is not the one the previous stage runs', outcome: 'refused' },
  CANDIDATE_REQUIRED: { meaning: 'the first stage needs --bundle: there is no earlier stage to take it from', outcome: 'usage' },
  GATE_EXPRESSION_ERROR: { meaning: 'a gate\'s CEL expression failed on what it judged (a missing label or field, a result that is not true or false)', outcome: 'refused' },
  GATE_HTTP_STATUS: { meaning: 'a server a gate reads answered with an HTTP status other than the one the gate reads (e.g. 401, 404, 503)', outcome: 'refused' },
  GATE_NO_DATA: { meaning: 'a metrics gate\'s query matched no series in its window: no data proves nothing, so it refuses', outcome: 'refused' },
  GATE_QUERY_FAILED: { meaning: 'Prometheus refused a metrics gate\'s query (bad PromQL, a query too large or too slow); its error is shown', outcome: 'refused' },
  GATE_RESPONSE_INVALID: { meaning: 'a server a gate reads answered with something that is not what the gate reads (not JSON, not a Prometheus result)', outcome: 'refused' },
  GATE_RESPONSE_TOO_LARGE: { meaning: 'a server a gate reads sent more than the gate reads', outcome: 'refused' },
  GATE_SECRET_MISSING: { meaning: 'a secret a gate or notification names (env variable or file) is not there or is empty', outcome: 'refused' },
  GATE_TIMEOUT: { meaning: 'a server a gate reads did not answer in time', outcome: 'refused' },
  GATE_UNREACHABLE: { meaning: 'a server a gate reads could not be reached (connection, DNS, TLS)', outcome: 'refused' },
  GATES_FAILED: { meaning: 'one or more gates of the stage refuse the promotion', outcome: 'refused' },
  LEDGER_RECORD_UNVERIFIED: { meaning: 'a ledger record is not backed by a record signed by a trusted promoter', outcome: 'verification' },
  NOTHING_TO_PROMOTE: { meaning: 'the previous stage has no promotion yet', outcome: 'refused' },
  PIPELINE_INVALID: { meaning: 'a pipeline file does not match the pipeline schema', outcome: 'verification' },
  PIPELINE_NOT_FOUND: { meaning: 'no pipeline of that name in pipelines/', outcome: 'usage' },
  ROLLOUT_INVALID: { meaning: 'a stage\'s rollout waves do not fit its environment\'s clusters (a name it does not have, a wave that takes none, a cluster in no wave)', outcome: 'usage' },
  ROLLOUT_STOPPED: { meaning: 'released clusters of a rollout in waves are unhealthy on its bundle beyond maxUnavailable: no later wave is released; roll back, or promote a fix with --bundle', outcome: 'refused' },
  ROLLBACK_TARGET_UNKNOWN: { meaning: 'the rollback target was never promoted to the stage', outcome: 'refused' },
  STAGE_HELD: { meaning: 'the stage is on hold', outcome: 'refused' },
  STAGE_UNKNOWN: { meaning: 'the pipeline has no stage of that name', outcome: 'usage' },
} as const satisfies CodeTable;

type PipelineErrorCodes = typeof pipelineErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends PipelineErrorCodes {}
}
