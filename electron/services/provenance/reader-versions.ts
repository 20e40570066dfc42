// The versions of every reader that produced a finding, recorded with it so a finding can be
// reproduced (or explained) years later.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Bumped when this folder's own logic changes what it reports. */
export const PROVENANCE_READER_VERSION = '1';

const require = createRequire(import.meta.url);

function readPackageJson(file: string, name: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
  return pkg.name === name ? pkg.version : undefined;
}

function packageVersion(name: string): string {
  try {
    // ESM-only packages (c2pa-ts) cannot be require.resolve'd: look in the node_modules folders above.
    for (const dir of require.resolve.paths(name) ?? []) {
      const v = readPackageJson(path.join(dir, name, 'package.json'), name);
      if (v) return v;
    }
  } catch {}
  return 'unknown';
}

let cached: Record<string, string> | undefined;

export function readerVersions(): Record<string, string> {
  cached ??= {
    provenance: PROVENANCE_READER_VERSION,
    exifr: packageVersion('exifr'),
    '@trustnxt/c2pa-ts': packageVersion('@trustnxt/c2pa-ts'),
    sharp: packageVersion('sharp'),
    'fft.js': packageVersion('fft.js'),
  };
  return { ...cached };
}
