import { useMemo, useState, type FormEvent } from 'react';
import type { CaseInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { ErrorMessage } from '../../components/ErrorMessage';

type SortKey = 'caseNumber' | 'title' | 'examiner' | 'createdAt' | 'evidenceCount';
type StatusFilter = 'all' | 'open' | 'closed';

export function CasesView(props: { onOpenCase(c: CaseInfo): void; openCaseId: string | null; onCaseChanged(c: CaseInfo): void }) {
  const [refresh, setRefresh] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [query, setQuery] = useState('');
  const [status, setStatus] = useState<StatusFilter>('all');
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'createdAt', dir: -1 });
  const [editing, setEditing] = useState<CaseInfo | null>(null);
  const cases = useApiCall('cases.list', {}, [refresh]);

  const shown = useMemo(() => {
    if (cases.state !== 'ready') return [];
    const q = query.trim().toLowerCase();
    return cases.value
      .filter((c) => status === 'all' || (status === 'open' ? !c.closedAt : !!c.closedAt))
      .filter((c) => !q || [c.caseNumber, c.title, c.examiner].some((v) => v.toLowerCase().includes(q)))
      .sort((a, b) => {
        const x = a[sort.key];
        const y = b[sort.key];
        return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * sort.dir;
      });
  }, [cases, query, status, sort]);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    const value = (k: string) => String(form.get(k) ?? '').trim();
    try {
      setError(null);
      if (editing) {
        const updated = await getApiClient().call('cases.update', {
          caseId: editing.id,
          caseNumber: value('caseNumber'),
          title: value('title'),
          examiner: value('examiner'),
          agency: value('agency') || null,
          description: value('description') || null,
        });
        setEditing(null);
        formEl.reset();
        setRefresh((n) => n + 1);
        props.onCaseChanged(updated);
      } else {
        const created = await getApiClient().call('cases.create', {
          caseNumber: value('caseNumber'),
          title: value('title'),
          examiner: value('examiner'),
          ...(value('agency') ? { agency: value('agency') } : {}),
          ...(value('description') ? { description: value('description') } : {}),
        });
        formEl.reset();
        setRefresh((n) => n + 1);
        props.onOpenCase(created);
      }
    } catch (err) {
      setError(err);
    }
  }

  async function setClosed(c: CaseInfo, close: boolean) {
    try {
      setError(null);
      const updated = await getApiClient().call(close ? 'cases.close' : 'cases.reopen', { caseId: c.id });
      setRefresh((n) => n + 1);
      props.onCaseChanged(updated);
    } catch (err) {
      setError(err);
    }
  }

  const header = (key: SortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'}>
      <button className="link" onClick={() => setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : 1 }))}>
        {label}
        {sort.key === key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
      </button>
    </th>
  );

  return (
    <section aria-labelledby="cases-title" className="cases">
      <h2 id="cases-title">Cases</h2>
      <form className="case-form" onSubmit={submit} aria-label={editing ? `Edit case ${editing.caseNumber}` : 'New case'} key={editing?.id ?? 'new'}>
        <h3>{editing ? `Edit case ${editing.caseNumber}` : 'New case'}</h3>
        <label>
          Case number
          <input name="caseNumber" required defaultValue={editing?.caseNumber} aria-label="Case number" />
        </label>
        <label>
          Title
          <input name="title" required defaultValue={editing?.title} aria-label="Title" />
        </label>
        <label>
          Examiner
          <input name="examiner" required defaultValue={editing?.examiner} aria-label="Examiner" />
        </label>
        <label>
          Agency
          <input name="agency" defaultValue={editing?.agency ?? ''} aria-label="Agency" placeholder="optional" />
        </label>
        <label className="wide">
          Description
          <textarea name="description" rows={2} defaultValue={editing?.description ?? ''} aria-label="Description" placeholder="optional" />
        </label>
        <div className="row">
          <button type="submit">{editing ? 'Save changes' : 'Create case'}</button>
          {editing && (
            <button type="button" onClick={() => setEditing(null)}>
              Cancel edit
            </button>
          )}
        </div>
      </form>
      <ErrorMessage error={error} />
      <div className="toolbar" role="search">
        <input type="search" placeholder="Search number, title or examiner" aria-label="Search cases" value={query} onChange={(e) => setQuery(e.target.value)} />
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)} aria-label="Case status">
            <option value="all">all</option>
            <option value="open">open</option>
            <option value="closed">closed</option>
          </select>
        </label>
        <span className="muted" data-testid="cases-count">
          {cases.state === 'ready' ? `${shown.length} of ${cases.value.length} cases` : ''}
        </span>
      </div>
      {cases.state === 'error' && <ErrorMessage error={cases.error} />}
      {cases.state === 'ready' && (
        <table className="grid" data-testid="cases">
          <thead>
            <tr>
              {header('caseNumber', 'Number')}
              {header('title', 'Title')}
              {header('examiner', 'Examiner')}
              <th>Status</th>
              {header('evidenceCount', 'Items')}
              {header('createdAt', 'Created')}
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => (
              <tr key={c.id} aria-current={c.id === props.openCaseId ? 'true' : undefined}>
                <td>
                  <button className="link" onClick={() => props.onOpenCase(c)} aria-label={`Open case ${c.caseNumber}`}>
                    {c.caseNumber}
                  </button>
                </td>
                <td title={c.description ?? undefined}>{c.title}</td>
                <td>{c.examiner}</td>
                <td>
                  <span className={`badge ${c.closedAt ? 'badge-closed' : 'badge-open'}`}>{c.closedAt ? 'closed' : 'open'}</span>
                </td>
                <td>{c.evidenceCount}</td>
                <td>{new Date(c.createdAt).toLocaleString()}</td>
                <td className="actions">
                  <button onClick={() => setEditing(c)} aria-label={`Edit case ${c.caseNumber}`}>
                    Edit
                  </button>
                  <button onClick={() => setClosed(c, !c.closedAt)} aria-label={`${c.closedAt ? 'Reopen' : 'Close'} case ${c.caseNumber}`}>
                    {c.closedAt ? 'Reopen' : 'Close'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
