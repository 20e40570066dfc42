// Malformed and oversized HTTP requests against the real server and services: each gets a status and
// the API's error shape ({ok: false, error: {code, message}}), never a reset or a crash, and the server
// answers the next valid call.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServices, type ApiServices } from '../../electron/services/api-handlers';
import { startHttpServer, type RunningServer } from '../../electron/server/http-server';
import { tempDir } from '../fixtures/case-store/case-fixtures';
import { faultLedger } from './fault-ledger';

let services: ApiServices;
let server: RunningServer;
const ledger = faultLedger('http');

beforeAll(async () => {
  const dataDir = tempDir('faults-http');
  const rendererDir = tempDir('faults-http-renderer');
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  services = createApiServices({ dataDir });
  server = await startHttpServer({ services, rendererDir });
});
afterAll(async () => {
  await server.close();
  await services.dispose();
});

interface Reply {
  status: number;
  json: any;
}

/** Sends a body in pieces (so neither side holds it whole) and reads the reply, or rejects on a reset. */
function send(pathname: string, opts: { headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean; method?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${server.token}`,
      ...opts.headers,
    };
    if (body && !opts.chunked) headers['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port: server.port, path: pathname, method: opts.method ?? 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) {
      const piece = 1 << 20;
      let at = 0;
      const pump = () => {
        while (at < body.length) {
          const ok = req.write(body.subarray(at, at + piece));
          at += piece;
          if (!ok) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end();
  });
}

async function stillServes(): Promise<void> {
  const r = await send('/api/call/app.info', { body: '{}' });
  expect(r.status).toBe(200);
  expect(r.json.ok).toBe(true);
}

const errorShape = (code: string | RegExp) => ({ ok: false, error: { code: typeof code === 'string' ? code : expect.stringMatching(code), message: expect.any(String) } });

describe('HTTP bodies over the limit', () => {
  it.each([
    ['12 MB with a length', 12, false],
    ['50 MB with a length', 50, false],
    ['12 MB chunked, no length', 12, true],
  ] as const)('%s gets 413 in the API error shape, not a reset', async (name, mb, chunked) => {
    ledger.tried(`oversize ${name}`);
    const body = Buffer.alloc(mb << 20, 0x20);
    body.write('{"x":"', 0);
    const r = await send('/api/call/cases.create', { body, chunked });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject(errorShape('PAYLOAD_TOO_LARGE'));
    expect(r.json.error.message).toMatch(/10 MB/);
    await stillServes();
    ledger.held(`oversize ${name}`);
  });
});

const MALFORMED: [string, Parameters<typeof send>[1] & { path?: string }, number, string][] = [
  ['not JSON', { body: '{"caseNumber": ' }, 400, 'INVALID_REQUEST'],
  ['JSON with a NUL byte outside a string', { body: '{"a":1}\u0000' }, 400, 'INVALID_REQUEST'],
  ['invalid UTF-8', { body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }, 400, 'INVALID_REQUEST'],
  ['an array instead of an object', { body: '[1,2,3]' }, 400, 'INVALID_REQUEST'],
  ['a bare string', { body: '"hello"' }, 400, 'INVALID_REQUEST'],
  ['null', { body: 'null' }, 400, 'INVALID_REQUEST'],
  ['wrong field types', { body: '{"caseNumber":1,"title":[],"examiner":{}}' }, 400, 'INVALID_REQUEST'],
  ['__proto__ pollution attempt', { body: '{"__proto__":{"admin":true},"caseNumber":"P","title":"t","examiner":"e","constructor":{"prototype":{"x":1}}}' }, 400, 'INVALID_REQUEST'],
  ['100,000 nested arrays', { body: '['.repeat(100_000) + ']'.repeat(100_000) }, 400, 'INVALID_REQUEST'],
  ['a 9 MB string field', { body: JSON.stringify({ caseNumber: 'x'.repeat(9 << 20), title: 't', examiner: 'e' }) }, 400, 'INVALID_REQUEST'],
  ['an unknown method', { path: '/api/call/cases.drop', body: '{}' }, 404, 'UNKNOWN_METHOD'],
  ['a path-like method name', { path: '/api/call/..%2f..%2fetc', body: '{}' }, 404, 'NOT_FOUND'],
  ['form-encoded', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' }, 415, 'INVALID_REQUEST'],
  ['no token', { headers: { authorization: '' }, body: '{}' }, 401, 'UNAUTHORIZED'],
  ['GET on a call', { method: 'GET' }, 404, 'NOT_FOUND'],
];

describe('malformed API requests', () => {
  it.each(MALFORMED)('%s', async (name, opts, status, code) => {
    ledger.tried(`malformed ${name}`);
    const r = await send(opts.path ?? '/api/call/cases.create', opts);
    expect(r.status).toBe(status);
    expect(r.json).toMatchObject(errorShape(code));
    await stillServes();
    ledger.held(`malformed ${name}`);
  });

  it('a client that sends half a body and hangs up does not take the server down', async () => {
    ledger.tried('half a body');
    await new Promise<void>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => {
        socket.write(
          `POST /api/call/cases.create HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${server.token}\r\n` +
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"caseNumber":',
        );
        socket.destroy();
        resolve();
      });
    });
    await stillServes();
    ledger.held('half a body');
  });
});

describe('malformed IPC calls', () => {
  // The Electron transport's own handler, registered on a recorder of ipcMain.handle: Electron cannot
  // run here, and what is under test is the handler's checks, not Electron's channel.
  const RENDERER = 'file:///opt/app/dist/renderer/index.html';
  let handler: (event: unknown, method: unknown, payload: unknown) => Promise<any>;
  beforeAll(async () => {
    const { registerIpcHandlers } = await import('../../electron/ipc/register-ipc-handlers');
    registerIpcHandlers({ handle: (_c: string, fn: typeof handler) => void (handler = fn), removeHandler: () => undefined } as never, services, RENDERER, () => []);
  });
  const from = (url: string | null) => ({ senderFrame: url === null ? null : { url } });

  it.each([
    ['a frame from another page', from('https://evil.example/'), 'app.info', {}, 'FORBIDDEN_ORIGIN'],
    ['no sender frame', from(null), 'app.info', {}, 'FORBIDDEN_ORIGIN'],
    ['a method that is an object', from(RENDERER), { toString: (): string => 'app.info' }, {}, 'UNKNOWN_METHOD'],
    ['an unknown method', from(RENDERER), 'cases.drop', {}, 'UNKNOWN_METHOD'],
    ['a payload of the wrong shape', from(RENDERER), 'cases.create', [1, 2], 'INVALID_REQUEST'],
    ['fields of the wrong types', from(RENDERER), 'cases.create', { caseNumber: 1, title: null, examiner: {} }, 'INVALID_REQUEST'],
    ['a 9 MB field', from(RENDERER), 'cases.create', { caseNumber: 'x'.repeat(9 << 20), title: 't', examiner: 'e' }, 'INVALID_REQUEST'],
  ] as const)('%s', async (name, event, method, payload, code) => {
    ledger.tried(`ipc ${name}`);
    const r = await handler(event, method, payload);
    expect(r).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
    expect(await handler(from(RENDERER), 'app.info', {})).toMatchObject({ ok: true });
    ledger.held(`ipc ${name}`);
  });
});
