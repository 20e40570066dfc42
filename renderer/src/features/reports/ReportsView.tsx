import { useEffect, useState } from 'react';
import type { ReportInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { useJob } from '../../api/use-job';
import { readableError } from '../../api/error-text';

/** The issued PDF as a blob: URL, fetched through the API contract (either transport). */
async function reportBlobUrl(report: ReportInfo): Promise<{ url: string; fileName: string }> {
  const file = await getApiClient().call('reports.file', { reportId: report.id });
  const bytes = Uint8Array.from(atob(file.pdfBase64), (c) => c.charCodeAt(0));
  return { url: URL.createObjectURL(new Blob([bytes], { type: 'application/pdf' })), fileName: file.fileName };
}

export function ReportsView({ caseId: openCaseId }: { caseId: string | null }) {
  const cases = useApiCall('cases.list', {});
  const [caseId, setCaseId] = useState<string | null>(openCaseId);
  const [scope, setScope] = useState<'all' | 'selected'>('all');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  const finished = job && job.status !== 'running' ? job.id : null;
  const reports = useApiCall('reports.list', caseId ? { caseId } : null, [caseId, finished]);
  const evidence = useApiCall('evidence.list', caseId ? { caseId } : null, [caseId]);

  // With no case open yet, the first case in the list.
  useEffect(() => {
    if (!caseId && cases.state === 'ready' && cases.value.length) setCaseId(cases.value[0].id);
  }, [cases.state]);

  async function exportReport() {
    if (!caseId) return;
    try {
      setError(null);
      const evidenceIds = scope === 'selected' ? [...selected] : undefined;
      if (evidenceIds && !evidenceIds.length) return setError('Select at least one evidence item, or export all.');
      setJobId((await getApiClient().call('jobs.start', { kind: 'report.export', caseId, ...(evidenceIds ? { evidenceIds } : {}) })).jobId);
    } catch (err) {
      setError(readableError(err).sentence);
    }
  }

  async function download(report: ReportInfo) {
    try {
      const { url, fileName } = await reportBlobUrl(report);
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError(readableError(err).sentence);
    }
  }

  async function open(report: ReportInfo) {
    // Electron's window refuses new windows (main.ts); there the PDF goes through the save dialog instead.
    if (getApiClient().transport === 'electron') return download(report);
    try {
      const { url } = await reportBlobUrl(report);
      window.open(url, '_blank', 'noopener');
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError(readableError(err).sentence);
    }
  }

  return (
    <section aria-labelledby="reports-title">
      <h2 id="reports-title">Reports</h2>
      {cases.state === 'ready' && !cases.value.length && <p>No case yet: create one under Cases.</p>}
      {cases.state === 'ready' && cases.value.length > 0 && (
        <form className="stack" aria-label="Export a report" onSubmit={(e) => (e.preventDefault(), void exportReport())}>
          <label>
            Case{' '}
            <select aria-label="Case" value={caseId ?? ''} onChange={(e) => (setCaseId(e.target.value), setSelected(new Set()))}>
              {cases.value.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.caseNumber} · {c.title}
                </option>
              ))}
            </select>
          </label>
          <label>
            <input type="radio" name="scope" checked={scope === 'all'} onChange={() => setScope('all')} /> All evidence
          </label>
          <label>
            <input type="radio" name="scope" checked={scope === 'selected'} onChange={() => setScope('selected')} /> Selected evidence
          </label>
          <button type="submit" disabled={!caseId || job?.status === 'running'}>
            Export PDF report
          </button>
          {job?.status === 'running' && (
            <button type="button" onClick={() => getApiClient().call('jobs.cancel', { jobId: job.id })}>
              Cancel
            </button>
          )}
        </form>
      )}
      {scope === 'selected' && evidence.state === 'ready' && (
        <fieldset aria-label="Evidence to include">
          <legend>Evidence to include</legend>
          {evidence.value.map((e) => (
            <label key={e.id} style={{ display: 'block' }}>
              <input
                type="checkbox"
                checked={selected.has(e.id)}
                onChange={(ev) => {
                  const next = new Set(selected);
                  if (ev.target.checked) next.add(e.id);
                  else next.delete(e.id);
                  setSelected(next);
                }}
              />{' '}
              {e.originalName} <code>{e.sha256.slice(0, 12)}…</code>
            </label>
          ))}
        </fieldset>
      )}
      {job && (
        <p data-testid="report-job-status">
          {job.status} · {job.progress.done}/{job.progress.total ?? '?'} evidence items laid out
          {job.error ? ` · ${job.error.message}` : ''}
        </p>
      )}
      {error && <p role="alert">{error}</p>}
      {reports.state === 'error' && caseId && <p role="alert">{reports.message}</p>}
      {reports.state === 'ready' && caseId && (
        <>
          <h3>Issued reports</h3>
          {reports.value.length === 0 ? (
            <p>No report has been exported for this case yet.</p>
          ) : (
            <table className="grid" data-testid="reports">
              <thead>
                <tr>
                  <th>Exported</th>
                  <th>By</th>
                  <th>Evidence</th>
                  <th>Pages</th>
                  <th>Case verify</th>
                  <th>sha256 (in the audit chain)</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {[...reports.value].reverse().map((r) => (
                  <tr key={r.id} data-report-id={r.id}>
                    <td title={r.exportedAt}>{new Date(r.exportedAt).toLocaleString()}</td>
                    <td>{r.exportedBy}</td>
                    <td>{r.evidenceIds.length}</td>
                    <td>{r.pageCount}</td>
                    <td>{r.verifyOk ? 'passed' : 'FAILED'}</td>
                    <td>
                      <code style={{ wordBreak: 'break-all' }}>{r.sha256}</code>
                    </td>
                    <td>
                      <button type="button" className="link" onClick={() => void open(r)}>
                        Open
                      </button>{' '}
                      <button type="button" className="link" onClick={() => void download(r)}>
                        Download
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
