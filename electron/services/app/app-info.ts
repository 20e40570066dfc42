import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listProviderAvailability, planProviders } from '../engine/execution-providers';
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

/** Every provider the engine knows, and whether a session would be tried with it here (and why not). */
export function listExecutionProviders(): ExecutionProviderInfo[] {
  const plan = planProviders('auto');
  return listProviderAvailability().map((p) => {
    const skipped = plan.skipped.find((s) => s.name === p.name);
    return {
      name: p.name,
      bundled: p.bundled,
      available: plan.order.includes(p.name),
      ...(skipped ? { reason: skipped.reason } : p.listed ? {} : { reason: 'not offered by onnxruntime-node here' }),
    };
  });
}
