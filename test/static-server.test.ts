// The static server behind `npm run playground` and the browser tests: content types (wasm must be
// application/wasm for streaming compilation), directories, errors, and no escape from its root.
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error a plain JavaScript module without type declarations
import { startStaticServer } from '../scripts/static-server.mjs';

let server: { url: string; port: number; close(): Promise<void> };

beforeAll(async () => {
  server = await startStaticServer({ root: fileURLToPath(new URL('..', import.meta.url)) });
});
afterAll(() => server?.close());

/** A raw GET (the path is sent as written, without the URL normalisation fetch would do). */
function get(
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static server', () => {
  it('listens on the loopback address and serves files with their content types', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const wasm = await get('/dist/wasm-optim.simd.wasm');
    expect(wasm.status).toBe(200);
    expect(wasm.headers['content-type']).toBe('application/wasm');
    expect(wasm.body.slice(0, 4)).toBe('\0asm');
    expect(wasm.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(wasm.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect((await get('/dist/wasm-optim.simd.wasm?type=octet')).headers['content-type']).toBe(
      'application/octet-stream',
    );
    expect((await get('/dist/index.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await get('/package.json')).headers['content-type']).toMatch(/^application\/json/);
  });

  it('serves index.html for a directory and redirects a directory without its slash', async () => {
    const page = await get('/playground/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('wasm-optim playground');
    const redirect = await get('/playground');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/playground/');
  });

  it('answers 404, 400, 405 and refuses paths outside its root', async () => {
    expect((await get('/no/such/file.js')).status).toBe(404);
    expect((await get('/%E0%A4%A')).status).toBe(400);
    expect((await get('/package.json', 'POST')).status).toBe(405);
    expect((await get('/../../etc/passwd')).status).not.toBe(200);
    expect((await get('/..%2F..%2Fetc%2Fpasswd')).status).toBe(403);
  });
});
