// `npm run serve`: the app without Electron — the built renderer and the same services over
// HTTP on 127.0.0.1, for Chromium (and for machines where the Electron binary is unavailable).
import path from 'node:path';
import { parseGlobalOptions } from '../cli/cli-context';
import { defaultDataDir } from '../services/app/data-dir';
import { findRepoRoot } from '../services/app/app-info';
import { createApiServices } from '../services/api-handlers';
import { startHttpServer } from './http-server';

const opts = parseGlobalOptions(process.argv.slice(2));
let port = 0;
const portIndex = opts.rest.indexOf('--port');
if (portIndex >= 0) port = Number(opts.rest[portIndex + 1]);
if (opts.error || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`${opts.error ?? 'Usage: npm run serve -- [--port <n>] [--data-dir <dir>] [--json]'}\n`);
  process.exit(2);
}
const services = createApiServices({ dataDir: opts.dataDir ?? defaultDataDir() });
const server = await startHttpServer({
  services,
  rendererDir: path.join(findRepoRoot(), 'dist', 'renderer'),
  port,
});
// The launch URL carries the per-launch token; tests and scripts read this first line.
if (opts.json) process.stdout.write(JSON.stringify({ url: server.url, launchUrl: server.launchUrl, dataDir: services.dataDir }) + '\n');
else process.stdout.write(`Serving on ${server.url}\nOpen: ${server.launchUrl}\nData directory: ${services.dataDir}\n`);

const shutdown = async () => {
  await server.close();
  await services.dispose();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
