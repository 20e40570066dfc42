import { useEffect, useState } from 'react';
import type { JobState } from '../../../electron/shared/api-contract';
import { getApiClient } from './api-client';

/** Follows one job through the event stream (SSE or IPC), whichever transport is in use. */
export function useJob(jobId: string | null): JobState | null {
  const [job, setJob] = useState<JobState | null>(null);
  useEffect(() => {
    if (!jobId) return;
    const client = getApiClient();
    const off = client.onEvent((e) => e.type === 'job' && e.job.id === jobId && setJob(e.job));
    // The job may have finished before the stream connected: ask once too.
    void client.call('jobs.get', { jobId }).then(setJob, () => undefined);
    return off;
  }, [jobId]);
  return job;
}
