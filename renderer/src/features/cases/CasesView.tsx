import { useState, type FormEvent } from 'react';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';

export function CasesView({ onOpenCase }: { onOpenCase(caseId: string): void }) {
  const [refresh, setRefresh] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const cases = useApiCall('cases.list', {}, [refresh]);

  async function createCase(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const value = (k: string) => String(form.get(k) ?? '').trim();
    try {
      setError(null);
      const created = await getApiClient().call('cases.create', {
        caseNumber: value('caseNumber'),
        title: value('title'),
        examiner: value('examiner'),
        ...(value('agency') ? { agency: value('agency') } : {}),
      });
      setRefresh((n) => n + 1);
      onOpenCase(created.id);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <section aria-labelledby="cases-title">
      <h2 id="cases-title">Cases</h2>
      <form className="stack" onSubmit={createCase} aria-label="New case">
        <input name="caseNumber" placeholder="Case number" required aria-label="Case number" />
        <input name="title" placeholder="Title" required aria-label="Title" />
        <input name="examiner" placeholder="Examiner" required aria-label="Examiner" />
        <input name="agency" placeholder="Agency (optional)" aria-label="Agency" />
        <button type="submit">Create case</button>
      </form>
      {error && <p role="alert">{error}</p>}
      {cases.state === 'error' && <p role="alert">{cases.message}</p>}
      {cases.state === 'ready' && (
        <table className="grid" data-testid="cases">
          <thead>
            <tr>
              <th>Number</th>
              <th>Title</th>
              <th>Examiner</th>
              <th>Evidence</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {cases.value.map((c) => (
              <tr key={c.id}>
                <td>
                  <button className="link" onClick={() => onOpenCase(c.id)}>
                    {c.caseNumber}
                  </button>
                </td>
                <td>{c.title}</td>
                <td>{c.examiner}</td>
                <td>{c.evidenceCount}</td>
                <td>{new Date(c.createdAt).toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
