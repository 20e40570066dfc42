import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { createApiServices, type ApiServices } from '../../electron/services/api-handlers';
import { startHttpServer, type RunningServer } from '../../electron/server/http-server';
import type { JobState } from '../../electron/shared/api-contract';

let services: ApiServices;
let server: RunningServer;
let dataDir: string;
let rendererDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-http-'));
  rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-renderer-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(path.dirname(rendererDir), 'secret-outside.txt'), 'secret');
  services = createApiServices({ dataDir });
  server = await startHttpServer({ services, rendererDir });
});
afterAll(async () => {
  await server.close();
  await services.dispose();
});

/** Raw request so that Host and Origin can be set freely (fetch forbids both). */
function request(
  pathname: string,
  { method = 'POST', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; json: any; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, path: pathname, method, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, json, text, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const authed = (extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${server.token}`,
  ...extra,
});

describe('HTTP transport', () => {
  it('serves app.info from the real services', async () => {
    const r = await request('/api/call/app.info', { headers: authed(), body: '{}' });
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(true);
    expect(r.json.value.dataDir).toBe(dataDir);
    expect(r.json.value.providers.map((p: { name: string }) => p.name)).toContain('cpu');
    expect(r.json.value.version).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
  });

  it('refuses a missing token', async () => {
    const r = await request('/api/call/app.info', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('UNAUTHORIZED');
  });

  it('refuses a wrong token of the same length', async () => {
    const wrong = crypto.randomBytes(32).toString('base64url');
    const r = await request('/api/call/app.info', { headers: authed({ authorization: `Bearer ${wrong}` }), body: '{}' });
    expect(r.status).toBe(401);
  });

  it('refuses a request with the wrong shape, before any service runs', async () => {
    const r = await request('/api/call/jobs.get', { headers: authed(), body: JSON.stringify({ jobId: 7 }) });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('INVALID_REQUEST');
    const notJson = await request('/api/call/jobs.get', { headers: authed(), body: '{nope' });
    expect(notJson.json.error.code).toBe('INVALID_REQUEST');
    // A provider the engine does not know is refused, and the stored choice stays as it was.
    const bad = await request('/api/call/settings.update', { headers: authed(), body: JSON.stringify({ providerPreference: 'tpu' }) });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_REQUEST');
    const current = await request('/api/call/settings.get', { headers: authed(), body: '{}' });
    expect(current.json.value).toEqual({ providerPreference: 'auto' });
  });

  it('refuses an unknown method', async () => {
    const r = await request('/api/call/system.exec', { headers: authed(), body: '{}' });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('UNKNOWN_METHOD');
  });

  it('refuses a cross-site origin even with the token', async () => {
    const r = await request('/api/call/app.info', { headers: authed({ origin: 'http://evil.example' }), body: '{}' });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('FORBIDDEN_ORIGIN');
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const r = await request('/api/call/app.info', { headers: authed({ host: `attacker.example:${server.port}` }), body: '{}' });
    expect(r.status).toBe(403);
  });

  it('listens on loopback only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves the renderer with a CSP and never a file outside it', async () => {
    const page = await request('/', { method: 'GET' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const escape = await request('/..%2fsecret-outside.txt', { method: 'GET' });
    expect(escape.text).not.toContain('secret');
  });

  it('runs a job off the main thread with progress events over SSE, and cancels one', async () => {
    const files = Array.from({ length: 5 }, (_, i) => {
      const f = path.join(dataDir, `blob-${i}.bin`);
      fs.writeFileSync(f, crypto.randomBytes(1024 * (i + 1)));
      return f;
    });
    const events: JobState[] = [];
    const sse = http.get({ host: '127.0.0.1', port: server.port, path: `/api/events?token=${server.token}` }, (res) => {
      res.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)).job);
      });
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = await request('/api/call/jobs.start', { headers: authed(), body: JSON.stringify({ kind: 'files.hash', paths: files }) });
    expect(started.status).toBe(200);
    const jobId = started.json.value.jobId as string;
    let state: JobState;
    for (;;) {
      state = (await request('/api/call/jobs.get', { headers: authed(), body: JSON.stringify({ jobId }) })).json.value;
      if (state.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(state.status).toBe('done');
    const result = state.result as { files: Array<{ path: string; sha256: string }> };
    expect(result.files[2].sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(files[2])).digest('hex'));
    await new Promise((r) => setTimeout(r, 100));
    expect(events.some((e) => e.id === jobId && e.status === 'done')).toBe(true);
    sse.destroy();

    // A long job is cancelled promptly and says so.
    const many = Array.from({ length: 20_000 }, () => files[4]);
    const longJob = await request('/api/call/jobs.start', { headers: authed(), body: JSON.stringify({ kind: 'files.hash', paths: many }) });
    const longId = longJob.json.value.jobId;
    await new Promise((r) => setTimeout(r, 300));
    const cancel = await request('/api/call/jobs.cancel', { headers: authed(), body: JSON.stringify({ jobId: longId }) });
    expect(cancel.json.value.cancelled).toBe(true);
    for (;;) {
      state = (await request('/api/call/jobs.get', { headers: authed(), body: JSON.stringify({ jobId: longId }) })).json.value;
      if (state.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(state.status).toBe('cancelled');
  });
});
