// `npm run example:tfjs-tagger`: the Brown-corpus tagger as a tfjs-layers model, trained with
// WasmEmbedding and with tfjs's own embedding layer, side by side (see run.ts).
// `npm run example:tfjs-tagger -- --help` for the flags.
import { USAGE, parseFlags, runTfjsTagger, type TaggerFlags } from './run.js';

let flags: TaggerFlags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (flags.help) process.stdout.write(`${USAGE}\n`);
else await runTfjsTagger(flags);
