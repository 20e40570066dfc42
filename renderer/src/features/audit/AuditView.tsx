import { useState } from 'react';
import type { ApiResponse, CaseInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { ErrorMessage } from '../../components/ErrorMessage';

type VerifyResult = ApiResponse<'audit.verify'>;

const csvCell = (v: unknown) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function auditCsv(entries: ApiResponse<'audit.list'>): string {
  const rows = [['index', 'at', 'actor', 'action', 'details', 'prev_hash', 'hash']];
  for (const e of entries) rows.push([String(e.index), e.at, e.actor, e.action, JSON.stringify(e.details), e.prevHash, e.hash]);
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** Every entry of the case's audit chain, the chain's verification and a CSV export. */
export function AuditView({ openCase, onGoToCases }: { openCase: CaseInfo | null; onGoToCases(): void }) {
  const [refresh, setRefresh] = useState(0);
  const [verify, setVerify] = useState<VerifyResult | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [filter, setFilter] = useState('');
  const entries = useApiCall('audit.list', openCase ? { caseId: openCase.id } : null, [openCase?.id, refresh]);

  if (!openCase)
    return (
      <section aria-labelledby="audit-title">
        <h2 id="audit-title">Audit trail</h2>
        <p>No case is open. Open one on the Cases screen first.</p>
        <button onClick={onGoToCases}>Go to Cases</button>
      </section>
    );

  async function verifyNow() {
    setVerifying(true);
    setError(null);
    try {
      setVerify(await getApiClient().call('audit.verify', { caseId: openCase!.id }));
      setRefresh((n) => n + 1);
    } catch (e) {
      setError(e);
    } finally {
      setVerifying(false);
    }
  }

  function exportCsv() {
    if (entries.state !== 'ready') return;
    const url = URL.createObjectURL(new Blob([auditCsv(entries.value)], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `audit-${openCase!.caseNumber.replace(/[^A-Za-z0-9._-]+/g, '_')}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const q = filter.trim().toLowerCase();
  const shown = entries.state === 'ready' ? entries.value.filter((e) => !q || `${e.actor} ${e.action} ${JSON.stringify(e.details)}`.toLowerCase().includes(q)) : [];
  return (
    <section aria-labelledby="audit-title" className="audit">
      <header className="view-header">
        <h2 id="audit-title">Audit trail</h2>
        <span className="muted">
          Case {openCase.caseNumber} · {openCase.title}
        </span>
      </header>
      <div className="toolbar">
        <button onClick={verifyNow} disabled={verifying}>
          {verifying ? 'Verifying…' : 'Verify now'}
        </button>
        <button onClick={exportCsv} disabled={entries.state !== 'ready'}>
          Export CSV
        </button>
        <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="Filter entries" aria-label="Filter audit entries" />
        <span className="muted">{entries.state === 'ready' ? `${shown.length} of ${entries.value.length} entries` : ''}</span>
      </div>
      {verify && (
        <p data-testid="verify-result" className={verify.ok ? 'message-ok' : 'message-error'} role="status">
          {verify.ok
            ? `Verified ${new Date(verify.verifiedAt).toLocaleString()}: the chain of ${verify.auditEntriesChecked} entries is intact and all ${verify.evidenceChecked} stored files match their hashes.`
            : `Verification FAILED ${new Date(verify.verifiedAt).toLocaleString()}: ${verify.issues.length} problem${verify.issues.length === 1 ? '' : 's'} found.`}
          {verify.auditHead && (
            <>
              {' '}
              Chain head #{verify.auditHead.index} <code className="hash">{verify.auditHead.hash}</code>
            </>
          )}
        </p>
      )}
      {verify && !verify.ok && (
        <ul className="messages">
          {verify.issues.map((i, n) => (
            <li key={n} className="message-error">
              {String(i.kind)}: {JSON.stringify(i)}
            </li>
          ))}
        </ul>
      )}
      <ErrorMessage error={error} />
      {entries.state === 'error' && <ErrorMessage error={entries.error} />}
      <div className="table-wrap">
        <table className="grid audit-table" data-testid="audit-table">
          <thead>
            <tr>
              <th>#</th>
              <th>Time</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Details</th>
              <th>Hash</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.index}>
                <td>{e.index}</td>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td className="details">
                  <code>{JSON.stringify(e.details)}</code>
                </td>
                <td>
                  <code className="hash" title={e.hash}>
                    {e.hash.slice(0, 16)}…
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
