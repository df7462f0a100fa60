import type { CodeTable } from '../errors.ts';

// The error codes of demo/ (promote demo): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const demoErrorCodes = {
  DEMO_AGENT_FAILED: { meaning: 'an agent of the demo did not converge', outcome: 'failed' },
  DEMO_AUTO_FAILED: { meaning: 'promote run --once did not promote as the demo expects', outcome: 'failed' },
  DEMO_DRIFT_MISSED: { meaning: 'the demo\'s hand edit was not detected as drift', outcome: 'failed' },
  DEMO_DRIFT_NOT_CORRECTED: { meaning: 'the demo\'s drift was not corrected', outcome: 'failed' },
  DEMO_FOREIGN_LEDGER: { meaning: 'the pipeline\'s ledger is not the demo\'s local one', outcome: 'usage' },
  DEMO_FOREIGN_REGISTRY: { meaning: 'the pipeline pushes to a registry other than the demo\'s local layout', outcome: 'usage' },
  DEMO_KEY_MISSING: { meaning: 'a public key exists without its private key', outcome: 'usage' },
  DEMO_NOT_REFUSED: { meaning: 'a promotion the demo expects to be refused was accepted', outcome: 'failed' },
  DEMO_NO_BUNDLE: { meaning: 'the project has no bundle, or several', outcome: 'usage' },
  DEMO_PIPELINE_SHAPE: { meaning: 'the demo needs one chain of two or more stages with gates it can pass', outcome: 'usage' },
  DEMO_TRUST_KEYS: { meaning: 'the pipeline\'s trust lists name no key file the demo can sign with', outcome: 'usage' },
} as const satisfies CodeTable;

type DemoErrorCodes = typeof demoErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends DemoErrorCodes {}
}
