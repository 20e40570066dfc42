import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listSupportedBackends } from 'onnxruntime-node';
import type { ExecutionProviderInfo } from '../../shared/api-contract';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Walks up from this file to the folder that holds package.json (works from source and from a bundle). */
export function findRepoRoot(start = here): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${start}`);
    dir = parent;
  }
}

export function readPackageInfo(): { name: string; productName: string; version: string } {
  const pkg = JSON.parse(fs.readFileSync(path.join(findRepoRoot(), 'package.json'), 'utf8'));
  return { name: pkg.name, productName: pkg.productName ?? pkg.name, version: pkg.version };
}

/** What onnxruntime-node can run here: bundled providers are usable, the others need extra libraries. */
export function listExecutionProviders(): ExecutionProviderInfo[] {
  return listSupportedBackends().map((b) => ({
    name: b.name,
    bundled: b.bundled,
    available: b.bundled,
    ...(b.bundled ? {} : { reason: `${b.name} libraries are not installed (see README: onnxruntime-node-install)` }),
  }));
}
