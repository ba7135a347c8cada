// A tiny static file server (node:http) for the playground and the browser tests. It serves one
// folder on the loopback interface with the content types browsers need (`application/wasm` lets
// `WebAssembly.instantiateStreaming` compile while downloading), no caching, and the
// cross-origin-isolation headers that SharedArrayBuffer needs. `?type=octet` on a request serves
// the file as `application/octet-stream` instead (the browser tests use it to exercise the
// engine's fallback to `arrayBuffer()`).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

/**
 * Serves the files under `root` on http://host:port/ (port 0: any free port). Resolves to
 * `{ url, port, close() }` once listening. Only GET and HEAD; paths outside `root` are refused.
 * @param {{ root: string, port?: number, host?: string, log?: (line: string) => void }} options
 * @returns {Promise<{ url: string, port: number, requests: string[], close(): Promise<void> }>}
 */
export function startStaticServer({ root, port = 0, host = '127.0.0.1', log }) {
  const base = resolve(root);
  const requests = [];
  const server = createServer(async (req, res) => {
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      log?.(`${status} ${req.method} ${req.url}`);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push(url.pathname + url.search);
      let decoded;
      try {
        decoded = decodeURIComponent(url.pathname);
      } catch {
        return send(400, 'bad request: malformed path\n');
      }
      let path = normalize(join(base, decoded));
      if (path !== base && !path.startsWith(base + sep)) return send(403, 'forbidden\n');
      let info = await stat(path).catch(() => null);
      if (info?.isDirectory()) {
        if (!url.pathname.endsWith('/')) {
          res.writeHead(301, { location: url.pathname + '/' + url.search });
          return res.end();
        }
        path = join(path, 'index.html');
        info = await stat(path).catch(() => null);
      }
      if (!info?.isFile()) return send(404, `not found: ${url.pathname}\n`);
      const body = await readFile(path);
      const type =
        url.searchParams.get('type') === 'octet'
          ? 'application/octet-stream'
          : (TYPES[extname(path)] ?? 'application/octet-stream');
      res.writeHead(200, {
        'content-type': type,
        'content-length': body.length,
        'cache-control': 'no-store',
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      log?.(`200 ${req.method} ${url.pathname}`);
    } catch (e) {
      if (!res.headersSent) send(500, `error: ${e.message}\n`);
      else res.destroy();
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolvePromise({
        url: `http://${host}:${actual}/`,
        port: actual,
        requests,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}
