// Development entry for the job worker: registers tsx so the TypeScript worker runs unbundled
// (under `tsx` and vitest). The Electron build bundles job-worker.ts into plain JavaScript instead.
import { register } from 'tsx/esm/api';

register();
await import('./job-worker.ts');
