import { useState } from 'react';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { useJob } from '../../api/use-job';

const METHOD_LABELS: Record<string, string> = {
  gradcam: 'GradCAM',
  ablationcam: 'AblationCAM',
  layercam: 'LayerCAM',
  scorecam: 'Faster ScoreCAM',
  lime: 'LIME',
};

/** The five explanations of one evidence file's latest analysis, side by side. */
export function ExplanationPanel({ evidenceId, name }: { evidenceId: string; name: string }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  const finished = job && job.status !== 'running' ? job.id : null;
  const explanations = useApiCall('explanations.list', { evidenceId }, [evidenceId, finished]);

  async function explain() {
    try {
      setError(null);
      setJobId((await getApiClient().call('jobs.start', { kind: 'explanation.run', evidenceId })).jobId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <section aria-label={`Explanations of ${name}`} className="explanations">
      <h3>Why: {name}</h3>
      <button onClick={explain} disabled={job?.status === 'running'}>
        Explain with all five methods
      </button>
      {job && (
        <p data-testid="explain-status">
          {job.status} · {job.progress.done}/{job.progress.total ?? '?'} {job.progress.message ?? ''}
          {job.error ? ` · ${job.error.message}` : ''}
        </p>
      )}
      {error && <p role="alert">{error}</p>}
      {explanations.state === 'ready' && (
        <div className="heatmaps" data-testid="heatmaps">
          {explanations.value.map((e) => (
            <figure key={e.id}>
              {e.overlay && <img src={e.overlay} alt={`${METHOD_LABELS[e.method] ?? e.method} heatmap`} />}
              {e.overlayProblem && <p role="alert">{e.overlayProblem}</p>}
              <figcaption>
                {METHOD_LABELS[e.method] ?? e.method} · target {String(e.parameters.target ?? '')}
              </figcaption>
            </figure>
          ))}
        </div>
      )}
    </section>
  );
}
