import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CaseStore } from '../../electron/services/case-store';
import { datasetImages, repoRoot, tempDir } from '../fixtures/case-store/case-fixtures';

describe('CaseStore in a worker thread', () => {
  it('ingests and verifies off the main thread; the main thread then reads the same database', async () => {
    const dataDir = tempDir('case-worker');
    const files = datasetImages(5);
    const script = pathToFileURL(path.join(repoRoot, 'test/fixtures/case-store/store-worker.ts')).href;
    // The app runs built JavaScript; here the worker registers tsx before loading the TypeScript entry.
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); })`;
    const worker = new Worker(bootstrap, { eval: true, workerData: { dataDir, files } });
    const message = await new Promise<{ caseId: string; added: number; ok: boolean; progress: number[] }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
    });
    expect(message).toMatchObject({ added: 5, ok: true });
    expect(message.progress.at(-1)).toBe(5);
    const store = CaseStore.open(dataDir);
    try {
      expect(store.listEvidence(message.caseId)).toHaveLength(5);
    } finally {
      store.close();
    }
  });
});
