import type { CodeTable } from '../errors.ts';

// The error codes of agent/ (the pull agent and its targets): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const agentErrorCodes = {
  AGENT_LISTEN_FAILED: { meaning: 'the agent cannot serve its metrics endpoint', outcome: 'failed' },
  AGENT_LOAD_FAILED: { meaning: 'the agent cannot load its pipeline or environment', outcome: 'failed' },
  AGENT_ROUND_FAILED: { meaning: 'a reconcile round failed', outcome: 'failed' },
  AGENT_STATE_CORRUPT: { meaning: 'the agent\'s replay state file belongs to another owner or is unreadable', outcome: 'failed' },
  KUBE_CONFIG_INVALID: { meaning: 'the Kubernetes configuration is unusable (no current cluster, unreadable)', outcome: 'failed' },
  KUBE_UNREACHABLE: { meaning: 'the Kubernetes API server cannot be reached', outcome: 'failed' },
  PIPELINE_EMPTY: { meaning: 'the pipeline has no stages', outcome: 'usage' },
  RECORD_KEEP_INVALID: { meaning: 'the record keeps an older record running on the agent\'s cluster (its wave is not released) that the agent cannot run: missing, unsigned, of another stage, pipeline or cluster, not older, or not releasing the cluster', outcome: 'verification' },
  RECORD_REPLAYED: { meaning: 'the record is older than one the agent already applied (a replay)', outcome: 'verification' },
  RECORD_WRONG_CLUSTER: { meaning: 'the record does not include the agent\'s cluster', outcome: 'verification' },
  RECORD_WRONG_PIPELINE: { meaning: 'the record is for another pipeline or stage', outcome: 'verification' },
  STATUS_REPORT_FAILED: { meaning: 'publishing the agent\'s signed status report failed', outcome: 'failed' },
  TARGET_SET_MISMATCH: { meaning: 'a target was given the object set of another call or record (a bug in its caller: see the Target call order)', outcome: 'failed' },
  TARGET_INVENTORY_INVALID: { meaning: 'the directory target\'s inventory file is not a promote inventory', outcome: 'failed' },
  TARGET_OWNED_BY_OTHER: { meaning: 'the target is owned by another pipeline, stage or cluster', outcome: 'failed' },
  TARGET_PATH_DUPLICATE: { meaning: 'the render has two files at one path', outcome: 'failed' },
  TARGET_PATH_ESCAPES: { meaning: 'a target path leads outside the target root through a symbolic link', outcome: 'failed' },
  TARGET_PATH_INVALID: { meaning: 'a rendered path cannot be written to the target', outcome: 'failed' },
} as const satisfies CodeTable;

type AgentErrorCodes = typeof agentErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends AgentErrorCodes {}
}
