// `npm run demo`: trains a part-of-speech tagger on the Brown corpus with embedding tables updated
// sparsely by the engine, and reports held-out accuracy. `npm run demo -- --help` for the flags.
import { USAGE, parseFlags, runDemo, type DemoFlags } from './run.js';

let flags: DemoFlags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (flags.help) process.stdout.write(`${USAGE}\n`);
else await runDemo(flags);
