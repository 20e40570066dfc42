// Browser transport: the renderer and the API over HTTP on loopback only, guarded by a random
// per-launch token, a Host/Origin check (against DNS rebinding and cross-site pages) and the same
// request validation as the Electron IPC transport.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ApiErrorPayload } from '../shared/api-contract';
import { validateApiRequest } from '../shared/validate-request';
import { invokeHandler, type ApiServices } from '../services/api-handlers';
import { DEFAULT_MAX_UPLOAD_BYTES, stageUpload, UploadError } from '../services/upload-staging';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const MAX_BODY_BYTES = 10 * 1024 * 1024;
// A larger body is read and thrown away before the 413, so the client sees the answer; past this, the
// connection is cut instead (a loopback client sending this much is not a browser page).
const DRAIN_LIMIT_BYTES = 256 * 1024 * 1024;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export interface RunningServer {
  url: string;
  /** The URL to open in a browser: it carries the token in the fragment, which is never sent to servers. */
  launchUrl: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

function isLoopbackAddress(addr: string | undefined): boolean {
  return !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

function tokensEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && crypto.timingSafeEqual(ab, bb);
}

export async function startHttpServer(options: {
  services: ApiServices;
  rendererDir: string;
  port?: number;
  host?: '127.0.0.1' | '::1';
  token?: string;
  /** The largest single upload accepted (default 2 GiB). */
  maxUploadBytes?: number;
}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? crypto.randomBytes(32).toString('base64url');
  const rendererDir = path.resolve(options.rendererDir);
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const allowedOrigins = () => new Set([...allowedHosts()].map((h) => `http://${h}`));

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(text);
  };
  const refuse = (res: http.ServerResponse, status: number, error: ApiErrorPayload) =>
    sendJson(res, status, { ok: false, error });

  const server = http.createServer(async (req, res) => {
    try {
      if (!isLoopbackAddress(req.socket.remoteAddress)) {
        return refuse(res, 403, { code: 'FORBIDDEN_ORIGIN', message: 'Only loopback clients may connect.' });
      }
      if (!allowedHosts().has(req.headers.host ?? '')) {
        return refuse(res, 403, { code: 'FORBIDDEN_ORIGIN', message: `Host "${req.headers.host}" is not this server.` });
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins().has(origin)) {
        return refuse(res, 403, { code: 'FORBIDDEN_ORIGIN', message: `Requests from origin "${origin}" are refused.` });
      }
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);

      if (url.pathname.startsWith('/api/')) {
        const presented =
          (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined) ??
          (url.pathname === '/api/events' ? (url.searchParams.get('token') ?? undefined) : undefined);
        if (!presented || !tokensEqual(presented, token)) {
          return refuse(res, 401, { code: 'UNAUTHORIZED', message: 'Missing or wrong API token.' });
        }
        if (url.pathname === '/api/events' && req.method === 'GET') return streamEvents(req, res, options.services);
        if (url.pathname === '/api/upload' && req.method === 'POST') return receiveUpload(req, res, url, options.services.dataDir, options.maxUploadBytes);
        const match = /^\/api\/call\/([A-Za-z0-9_.-]+)$/.exec(url.pathname);
        if (!match || req.method !== 'POST') {
          return refuse(res, 404, { code: 'NOT_FOUND', message: `No API endpoint ${req.method} ${url.pathname}.` });
        }
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          return refuse(res, 415, { code: 'INVALID_REQUEST', message: 'API requests must be application/json.' });
        }
        const body = await readBody(req);
        if (body === null) {
          return refuse(res, 413, {
            code: 'PAYLOAD_TOO_LARGE',
            message: `The request body is larger than the API accepts (${MAX_BODY_BYTES / (1024 * 1024)} MB); nothing was done.`,
            details: { limitBytes: MAX_BODY_BYTES },
          });
        }
        let payload: unknown;
        try {
          payload = body.length ? JSON.parse(body) : {};
        } catch {
          return refuse(res, 400, { code: 'INVALID_REQUEST', message: 'Request body is not valid JSON.' });
        }
        const checked = validateApiRequest(match[1], payload);
        if (!checked.ok) return refuse(res, checked.error.code === 'UNKNOWN_METHOD' ? 404 : 400, checked.error);
        const result = await invokeHandler(options.services, checked.method, checked.request);
        return sendJson(res, result.ok ? 200 : statusForErrorCode(result.error.code), result);
      }

      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return refuse(res, 405, { code: 'NOT_FOUND', message: 'Method not allowed.' });
      }
      serveStatic(url.pathname, rendererDir, res);
    } catch (e) {
      if (!res.headersSent) refuse(res, 500, { code: 'INTERNAL', message: (e as Error).message });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as { port: number }).port;
  const url = `http://${host === '::1' ? '[::1]' : host}:${port}`;
  return {
    url,
    launchUrl: `${url}/#token=${token}`,
    token,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Missing things are 404, faults of ours 500, and a service's refusal of a valid request 422. */
function statusForErrorCode(code: string): number {
  if (code.endsWith('NOT_FOUND')) return 404;
  if (code === 'INTERNAL') return 500;
  return 422;
}

/**
 * Reads a request body up to MAX_BODY_BYTES; past that, stops keeping it and drains the rest, so the
 * 413 reaches a client that is still sending (closing the socket under it would reset the connection
 * and the client would never see the answer). A body past DRAIN_LIMIT_BYTES is cut off.
 */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > DRAIN_LIMIT_BYTES) {
      req.destroy();
      return resolve(null);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > MAX_BODY_BYTES;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DRAIN_LIMIT_BYTES) {
        req.destroy();
        resolve(null);
      } else if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
      } else if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * POST /api/upload?name=<file name>: the raw bytes of one file, streamed to the staging folder (never
 * held in memory), refused past the size limit. The answer's uploadId goes into an evidence.import job.
 */
async function receiveUpload(req: http.IncomingMessage, res: http.ServerResponse, url: URL, dataDir: string, maxBytes = DEFAULT_MAX_UPLOAD_BYTES) {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
    res.end(JSON.stringify(body));
  };
  const name = url.searchParams.get('name') ?? '';
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return reply(413, { ok: false, error: { code: 'UPLOAD_TOO_LARGE', message: `${name || 'The file'} is ${declared} bytes; the upload limit is ${maxBytes} bytes.` } });
  }
  try {
    const staged = await stageUpload(dataDir, name, req, maxBytes);
    reply(200, { ok: true, value: staged });
  } catch (e) {
    const code = e instanceof UploadError ? e.code : 'INTERNAL';
    if (!res.headersSent) reply(code === 'UPLOAD_TOO_LARGE' ? 413 : code === 'INVALID_REQUEST' ? 400 : 500, { ok: false, error: { code, message: (e as Error).message } });
    req.resume();
  }
}

function streamEvents(req: http.IncomingMessage, res: http.ServerResponse, services: ApiServices) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': connected\n\n');
  const off = services.onEvent((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
  const keepAlive = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    off();
    clearInterval(keepAlive);
  });
}

function serveStatic(pathname: string, rendererDir: string, res: http.ServerResponse) {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    res.writeHead(400).end('Bad path');
    return;
  }
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = path.resolve(rendererDir, relative);
  // Never serve anything outside the built renderer, whatever the path says.
  if (file !== rendererDir && !file.startsWith(rendererDir + path.sep)) {
    res.writeHead(403).end('Forbidden');
    return;
  }
  const target = fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(rendererDir, 'index.html');
  if (!fs.existsSync(target)) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('The renderer is not built: run `npm run build`.');
    return;
  }
  res.writeHead(200, {
    'content-type': MIME[path.extname(target)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  fs.createReadStream(target).pipe(res);
}
