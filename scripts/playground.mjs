// `npm run playground`: serves the repository on http://127.0.0.1:PORT/ (PORT from the environment,
// default 8080) and prints the playground's address. Ctrl+C stops it.
import { fileURLToPath } from 'node:url';
import { startStaticServer } from './static-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const port = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`playground: PORT must be an integer in [0, 65535], got ${process.env.PORT}`);
  process.exit(1);
}
try {
  const server = await startStaticServer({ root, port, host: process.env.HOST ?? '127.0.0.1' });
  console.log(`wasm-optim playground: ${server.url}playground/  (Ctrl+C stops the server)`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(
    `playground: could not listen on port ${port}: ${e.message}${e.code === 'EADDRINUSE' ? ' (try PORT=8081 npm run playground)' : ''}`,
  );
  process.exit(1);
}
