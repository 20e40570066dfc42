import { useState, type FormEvent } from 'react';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { useJob } from '../../api/use-job';
import { ExplanationPanel } from './ExplanationPanel';

export function EvidenceView({ caseId }: { caseId: string | null }) {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<{ id: string; name: string } | null>(null);
  const job = useJob(jobId);
  const finished = job && job.status !== 'running' ? job.id : null;
  const evidence = useApiCall('evidence.list', { caseId: caseId ?? '' }, [caseId, finished]);
  const analyses = useApiCall('analyses.list', { caseId: caseId ?? '' }, [caseId, finished]);
  // The newest analysis of each evidence file (the list comes oldest first).
  const latest = new Map((analyses.state === 'ready' ? analyses.value : []).map((a) => [a.evidenceId, a]));
  // Why the analysis did not run on the provider asked for in Settings (or that none was there).
  const providerNote = job?.kind === 'analysis.run' && job.status === 'done' ? (job.result as { providerNote?: string } | undefined)?.providerNote : undefined;

  if (!caseId)
    return (
      <section aria-labelledby="evidence-title">
        <h2 id="evidence-title">Evidence</h2>
        <p>Open a case first.</p>
      </section>
    );

  async function importPaths(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const paths = String(new FormData(e.currentTarget).get('paths') ?? '')
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    if (!paths.length) return;
    try {
      setError(null);
      setJobId((await getApiClient().call('jobs.start', { kind: 'evidence.import', caseId: caseId!, paths })).jobId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function analyzeCase() {
    try {
      setError(null);
      setJobId((await getApiClient().call('jobs.start', { kind: 'analysis.run', caseId: caseId!, onlyMissing: true })).jobId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <section aria-labelledby="evidence-title">
      <h2 id="evidence-title">Evidence</h2>
      <form className="stack" onSubmit={importPaths} aria-label="Import evidence">
        <textarea name="paths" rows={3} placeholder="Files or folders to ingest, one path per line" aria-label="Paths to ingest" />
        <button type="submit" disabled={job?.status === 'running'}>
          Ingest
        </button>
        <button type="button" onClick={analyzeCase} disabled={job?.status === 'running'}>
          Analyze new evidence
        </button>
        {job?.status === 'running' && (
          <button type="button" onClick={() => getApiClient().call('jobs.cancel', { jobId: job.id })}>
            Cancel
          </button>
        )}
      </form>
      {job && (
        <p data-testid="job-status">
          {job.status} · {job.progress.done}/{job.progress.total ?? '?'}
          {job.error ? ` · ${job.error.message}` : ''}
        </p>
      )}
      {providerNote && <p data-testid="provider-note">Execution provider: {providerNote}</p>}
      {error && <p role="alert">{error}</p>}
      {evidence.state === 'error' && <p role="alert">{evidence.message}</p>}
      {evidence.state === 'ready' && (
        <table className="grid" data-testid="evidence">
          <thead>
            <tr>
              <th>Name</th>
              <th>SHA-256</th>
              <th>Type</th>
              <th>Size</th>
              <th>Ingested</th>
              <th>Verdict</th>
              <th>p(synthetic)</th>
              <th>Model · provider</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {evidence.value.map((ev) => (
              <tr key={ev.id}>
                <td title={ev.originalPath}>{ev.originalName}</td>
                <td>
                  <code>{ev.sha256}</code>
                </td>
                <td>
                  {ev.mimeType}
                  {ev.width ? ` ${ev.width}×${ev.height}` : ''}
                </td>
                <td>{ev.sizeBytes.toLocaleString()} B</td>
                <td>
                  {new Date(ev.ingestedAt).toLocaleString()} by {ev.ingestedBy}
                </td>
                <td
                  data-testid="verdict"
                  data-verdict={latest.get(ev.id)?.verdict}
                  title={latest.get(ev.id)?.verdict === 'inconclusive' ? 'The score lies in the model card\'s inconclusive band: the detector cannot tell' : undefined}
                >
                  {latest.get(ev.id)?.verdict ?? '—'}
                </td>
                <td>{latest.get(ev.id)?.pSynthetic.toFixed(4) ?? '—'}</td>
                <td title={latest.get(ev.id)?.model.sha256}>
                  {latest.has(ev.id) ? `${latest.get(ev.id)!.model.id} · ${latest.get(ev.id)!.provider}` : '—'}
                </td>
                <td>
                  {latest.has(ev.id) && (
                    <button className="link" onClick={() => setSelected({ id: ev.id, name: ev.originalName })}>
                      Why?
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && <ExplanationPanel key={selected.id} evidenceId={selected.id} name={selected.name} />}
    </section>
  );
}
