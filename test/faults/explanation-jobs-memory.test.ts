// The server's memory and threads over many explanation jobs. Each job runs in a worker thread that
// loads onnxruntime sessions (native memory and intra-op threads that the worker's isolate does not
// own). A job's worker must end with its job, its sessions released, so after 20 jobs in a row the
// process holds no more threads than after the first few and its resident memory has stopped growing.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaseStore } from '../../electron/services/case-store';
import { JobManager } from '../../electron/services/jobs/job-manager';
import type { JobState } from '../../electron/shared/api-contract';
import { datasetImages, tempDir } from '../fixtures/case-store/case-fixtures';
import { NIGHTLY } from './fault-ledger';

const JOBS = NIGHTLY ? 60 : 20;
const MB = 1024 * 1024;

let dataDir: string;
let evidenceId: string;
const jobs = new JobManager();

function threads(): number {
  const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function runJob(kind: JobState['kind'], payload: Record<string, unknown>): Promise<JobState> {
  const id = jobs.start(kind, { dataDir, actor: 'ann', ...payload });
  const state = await jobs.waitFor(id);
  // The worker must end with its job; before the fix it idled forever, holding its sessions.
  const ended = await Promise.race([jobs.waitForExit(id).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
  expect(ended, `the worker of ${kind} job ${id} was still alive 15 s after the job ended`).toBe(true);
  return state;
}

beforeAll(async () => {
  dataDir = tempDir('faults-jobs-memory');
  const store = CaseStore.open(dataDir);
  let caseId: string;
  try {
    caseId = store.createCase({ caseNumber: 'M-1', title: 'memory', examiner: 'ann' }).id;
    evidenceId = (await store.ingest(caseId, datasetImages(1, 'real'), { actor: 'ann' })).added[0].id;
  } finally {
    store.close();
  }
  const analysed = await runJob('analysis.run', { caseId });
  expect(analysed).toMatchObject({ status: 'done' });
}, 300_000);

afterAll(async () => {
  await jobs.dispose();
});

describe(`${JOBS} explanation jobs in a row`, () => {
  it('leave no worker behind, and threads and resident memory stop growing', { timeout: 900_000 }, async () => {
    const samples: { job: number; rssMb: number; threads: number }[] = [];
    for (let i = 1; i <= JOBS; i++) {
      const state = await runJob('explanation.run', { evidenceId, methods: ['gradcam', 'layercam'] });
      expect(state.status, JSON.stringify(state.error)).toBe('done');
      expect(jobs.liveWorkers()).toBe(0);
      samples.push({ job: i, rssMb: Math.round(process.memoryUsage().rss / MB), threads: threads() });
    }
    const at = (job: number) => samples[job - 1];
    const warm = at(5);
    const mid = at(Math.floor(JOBS / 2));
    const last = at(JOBS);
    const trace = samples.map((s) => `${s.job}:${s.rssMb}MB/${s.threads}t`).join(' ');
    // Threads: none gained per job once warm (each leaked worker used to add ~4).
    expect(last.threads, trace).toBeLessThanOrEqual(warm.threads + 2);
    // Memory: the second half of the run may not grow more than a fraction of one leaked worker
    // (~100 MB each before the fix), allocator noise included.
    expect(last.rssMb - mid.rssMb, trace).toBeLessThan(60);
    console.log(`explanation jobs: ${trace}`);
  });
});
