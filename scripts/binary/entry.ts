// The single executable's main script (bundled by scripts/build-binary.ts). SEA runs it as
// CommonJS, so no top-level await; process.argv is [executable, executable, ...arguments].
import { main } from '../../src/cli/main.ts';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
