// Bundles the main process, preload and job worker for Electron (the renderer is built by Vite).
import { build } from 'esbuild';
import path from 'node:path';
import { findRepoRoot } from '../services/app/app-info';

const root = findRepoRoot();
const out = path.join(root, 'dist', 'electron');
// Native addons and packages with data files stay outside the bundle.
const external = ['electron', 'onnxruntime-node', 'sharp', 'better-sqlite3', '@tensorflow/tfjs', 'nsfwjs', 'pdfkit'];

await Promise.all([
  build({
    entryPoints: { main: path.join(root, 'electron/main.ts'), 'job-worker': path.join(root, 'electron/services/jobs/job-worker.ts') },
    outdir: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    sourcemap: true,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  }),
  // Sandboxed preloads must be CommonJS.
  build({
    entryPoints: [path.join(root, 'electron/preload.ts')],
    outfile: path.join(out, 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['electron'],
  }),
]);
process.stdout.write(`Built ${path.relative(root, out)}\n`);
