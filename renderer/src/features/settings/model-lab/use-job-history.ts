import { useEffect, useState } from 'react';
import type { JobState } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';

/** A job's latest state and every progress detail it streamed, in order (for live charts). */
export function useJobHistory(jobId: string | null): { job: JobState | null; details: Array<Record<string, unknown>>; startedAt: number | null } {
  const [job, setJob] = useState<JobState | null>(null);
  const [details, setDetails] = useState<Array<Record<string, unknown>>>([]);
  const [startedAt, setStartedAt] = useState<number | null>(null);
  useEffect(() => {
    setJob(null);
    setDetails([]);
    if (!jobId) return;
    setStartedAt(Date.now());
    const client = getApiClient();
    const off = client.onEvent((e) => {
      if (e.type !== 'job' || e.job.id !== jobId) return;
      setJob(e.job);
      const d = e.job.progress.detail;
      if (d) setDetails((prev) => [...prev, d]);
    });
    // The job may have finished before the stream connected: ask once too.
    void client.call('jobs.get', { jobId }).then((s) => setJob((cur) => cur ?? s), () => undefined);
    return off;
  }, [jobId]);
  return { job, details, startedAt };
}

/** Resolves with a job's final state (for short jobs started from a button). */
export function waitForJob(jobId: string): Promise<JobState> {
  const client = getApiClient();
  return new Promise((resolve) => {
    let done = false;
    const finish = (s: JobState) => {
      if (done || s.status === 'running') return;
      done = true;
      off();
      clearInterval(timer);
      resolve(s);
    };
    const off = client.onEvent((e) => e.type === 'job' && e.job.id === jobId && finish(e.job));
    // Events can be missed across a reconnect; a slow poll is the backstop.
    const timer = setInterval(() => void client.call('jobs.get', { jobId }).then(finish, () => undefined), 1000);
    void client.call('jobs.get', { jobId }).then(finish, () => undefined);
  });
}
