import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { CaseInfo } from '../../../../electron/shared/api-contract';
import { getApiClient } from '../../api/api-client';
import { useApiCall } from '../../api/use-api';
import { useJob } from '../../api/use-job';
import { ErrorMessage } from '../../components/ErrorMessage';
import { ProgressBar } from '../../components/ProgressBar';
import { EvidenceGrid, type GridItem } from './EvidenceGrid';
import { EvidenceViewer } from './EvidenceViewer';
import { ImportPanel } from './ImportPanel';

// The running analysis of each case outlives this screen: coming back shows its progress again.
const analysisJobs = new Map<string, string>();

type VerdictFilter = 'all' | 'not-analysed' | 'failed' | string;
type SortKey = 'ingested' | 'name' | 'p-desc' | 'p-asc';

interface AnalysisJobResult {
  recorded: Array<{ evidenceId: string }>;
  failed: Array<{ evidenceId: string; originalName: string; code: string; message: string }>;
  providerNote?: string;
}

export function EvidenceView(props: {
  openCase: CaseInfo | null;
  onGoToCases(): void;
  /** Where a provenance panel (metadata and findings) mounts in the viewer, when one exists. */
  renderProvenancePanel?: (evidenceId: string) => ReactNode;
}) {
  const { openCase } = props;
  const [refresh, setRefresh] = useState(0);
  const [viewing, setViewing] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [lastToggled, setLastToggled] = useState<string | null>(null);
  const [dropped, setDropped] = useState<File[] | null>(null);
  const [analysisJobId, setJobIdState] = useState<string | null>(() => (props.openCase ? (analysisJobs.get(props.openCase.id) ?? null) : null));
  const setAnalysisJobId = (id: string) => {
    if (props.openCase) analysisJobs.set(props.openCase.id, id);
    setJobIdState(id);
  };
  const [error, setError] = useState<unknown>(null);
  const [verdictFilter, setVerdictFilter] = useState<VerdictFilter>('all');
  const [tagFilter, setTagFilter] = useState('');
  const [nameFilter, setNameFilter] = useState('');
  const [sort, setSort] = useState<SortKey>('ingested');
  const started = useRef<{ at: number; done: number } | null>(null);
  const job = useJob(analysisJobId);
  const finished = job && job.status !== 'running' ? job.id : null;
  const caseId = openCase?.id ?? null;
  const request = caseId ? { caseId } : null;
  const deps = [caseId, refresh, finished];
  const evidence = useApiCall('evidence.list', request, deps);
  const analyses = useApiCall('analyses.list', request, deps);
  const failures = useApiCall('analyses.failures', request, deps);
  const tags = useApiCall('tags.list', request, deps);

  useEffect(() => {
    setSelected(new Set());
    setViewing(null);
  }, [caseId]);

  const items: GridItem[] = useMemo(() => {
    if (evidence.state !== 'ready') return [];
    // The newest analysis of each evidence file (the list comes oldest first).
    const latest = new Map((analyses.state === 'ready' ? analyses.value : []).map((a) => [a.evidenceId, a]));
    const failed = new Map((failures.state === 'ready' ? failures.value : []).map((f) => [f.evidenceId, f.message]));
    const tagMap = new Map<string, string[]>();
    for (const t of tags.state === 'ready' ? tags.value : []) tagMap.set(t.evidenceId, [...(tagMap.get(t.evidenceId) ?? []), t.tag]);
    return evidence.value.map((e) => ({ evidence: e, analysis: latest.get(e.id), failed: failed.get(e.id), tags: tagMap.get(e.id) ?? [] }));
  }, [evidence, analyses, failures, tags]);

  const verdicts = useMemo(() => [...new Set(items.flatMap((i) => (i.analysis ? [i.analysis.verdict] : [])))].sort(), [items]);
  const allTags = useMemo(() => [...new Set(items.flatMap((i) => i.tags))].sort(), [items]);
  const thresholds = useMemo(() => [...new Set(items.flatMap((i) => (i.analysis ? [`${i.analysis.threshold.toFixed(3)} (${i.analysis.model.id})`] : [])))], [items]);

  const shown = useMemo(() => {
    const q = nameFilter.trim().toLowerCase();
    const list = items.filter(
      (i) =>
        (verdictFilter === 'all' ||
          (verdictFilter === 'not-analysed' ? !i.analysis : verdictFilter === 'failed' ? !i.analysis && !!i.failed : i.analysis?.verdict === verdictFilter)) &&
        (!tagFilter || i.tags.includes(tagFilter)) &&
        (!q || i.evidence.originalName.toLowerCase().includes(q)),
    );
    if (sort === 'name') list.sort((a, b) => a.evidence.originalName.localeCompare(b.evidence.originalName));
    else if (sort === 'p-desc' || sort === 'p-asc') {
      const sign = sort === 'p-desc' ? -1 : 1;
      list.sort((a, b) => ((a.analysis?.pSynthetic ?? -1) - (b.analysis?.pSynthetic ?? -1)) * sign);
    }
    return list;
  }, [items, verdictFilter, tagFilter, nameFilter, sort]);

  if (!openCase)
    return (
      <section aria-labelledby="evidence-title">
        <h2 id="evidence-title">Evidence</h2>
        <p>No case is open. Open or create one on the Cases screen first.</p>
        <button onClick={props.onGoToCases}>Go to Cases</button>
      </section>
    );

  const toggle = (id: string, range: boolean) => {
    setSelected((prev) => {
      const next = new Set(prev);
      if (range && lastToggled) {
        const ids = shown.map((i) => i.evidence.id);
        const [a, b] = [ids.indexOf(lastToggled), ids.indexOf(id)].sort((x, y) => x - y);
        if (a >= 0) for (const x of ids.slice(a, b + 1)) next.add(x);
      } else if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
    setLastToggled(id);
  };

  async function analyse(which: 'new' | 'selection') {
    try {
      setError(null);
      started.current = null;
      const request =
        which === 'selection'
          ? { kind: 'analysis.run' as const, caseId: openCase!.id, evidenceIds: [...selected] }
          : { kind: 'analysis.run' as const, caseId: openCase!.id, onlyMissing: true };
      setAnalysisJobId((await getApiClient().call('jobs.start', request)).jobId);
    } catch (err) {
      setError(err);
    }
  }

  const running = job?.status === 'running';
  if (running && job.progress.done > 0 && !started.current) started.current = { at: performance.now(), done: job.progress.done };
  const throughput =
    running && started.current && job.progress.done > started.current.done
      ? (job.progress.done - started.current.done) / ((performance.now() - started.current.at) / 1000)
      : null;
  const result = job?.status === 'done' ? (job.result as AnalysisJobResult) : undefined;
  const viewedItem = viewing ? items.find((i) => i.evidence.id === viewing) : undefined;

  return (
    <section aria-labelledby="evidence-title" className="evidence">
      <header className="view-header">
        <h2 id="evidence-title">Evidence</h2>
        <span className="muted" data-testid="evidence-case">
          Case {openCase.caseNumber} · {openCase.title}
        </span>
      </header>
      <ImportPanel openCase={openCase} droppedFiles={dropped} onDropHandled={() => setDropped(null)} onImported={() => setRefresh((n) => n + 1)} />
      <div className="toolbar" aria-label="Analysis">
        <button onClick={() => analyse('new')} disabled={running || !!openCase.closedAt}>
          Analyze new evidence
        </button>
        <button onClick={() => analyse('selection')} disabled={running || selected.size === 0 || !!openCase.closedAt}>
          Analyze selection ({selected.size})
        </button>
        {running && (
          <button onClick={() => getApiClient().call('jobs.cancel', { jobId: job.id })} aria-label="Cancel analysis">
            Cancel analysis
          </button>
        )}
        <span className="muted" data-testid="threshold-note" title="An image reads synthetic when p(synthetic) is at or above the model's decision threshold.">
          {thresholds.length ? `Decision threshold: p(synthetic) ≥ ${thresholds.join(', ')} reads synthetic` : 'Not analysed yet'}
        </span>
      </div>
      {running && (
        <div data-testid="analysis-progress">
          <ProgressBar label="Analysing" done={job.progress.done} total={job.progress.total} />
          <span className="muted">{throughput ? `${throughput.toFixed(2)} images/s` : ''}</span>
        </div>
      )}
      {job && !running && (
        <p data-testid="analysis-status" className="muted">
          {job.status === 'done'
            ? `Analysis finished: ${result?.recorded.length ?? 0} verdict${result?.recorded.length === 1 ? '' : 's'} recorded${result?.failed.length ? `, ${result.failed.length} could not be analysed` : ''}.`
            : job.status === 'cancelled'
              ? 'Analysis cancelled; verdicts already recorded stay.'
              : `Analysis failed: ${job.error?.message ?? ''}`}
        </p>
      )}
      {result?.failed.length ? (
        <ul className="messages" data-testid="analysis-messages">
          {result.failed.map((f) => (
            <li key={f.evidenceId} className="message-error">
              {f.originalName} could not be analysed: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
      {result?.providerNote && <p data-testid="provider-note">Execution provider: {result.providerNote}</p>}
      <ErrorMessage error={error} />
      {evidence.state === 'error' && <ErrorMessage error={evidence.error} />}
      <div className="toolbar" aria-label="Filters">
        <input type="search" placeholder="Filter by name" aria-label="Filter by name" value={nameFilter} onChange={(e) => setNameFilter(e.target.value)} />
        <label>
          Verdict{' '}
          <select value={verdictFilter} onChange={(e) => setVerdictFilter(e.target.value)} aria-label="Verdict filter">
            <option value="all">all</option>
            <option value="not-analysed">not analysed</option>
            <option value="failed">analysis failed</option>
            {verdicts.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tag{' '}
          <select value={tagFilter} onChange={(e) => setTagFilter(e.target.value)} aria-label="Tag filter">
            <option value="">any</option>
            {allTags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label>
          Sort{' '}
          <select value={sort} onChange={(e) => setSort(e.target.value as SortKey)} aria-label="Sort evidence">
            <option value="ingested">ingest order</option>
            <option value="name">name</option>
            <option value="p-desc">p(synthetic), highest first</option>
            <option value="p-asc">p(synthetic), lowest first</option>
          </select>
        </label>
        <button onClick={() => setSelected(new Set(shown.map((i) => i.evidence.id)))} disabled={!shown.length}>
          Select all shown
        </button>
        <button onClick={() => setSelected(new Set())} disabled={!selected.size}>
          Clear selection
        </button>
        <span className="muted" data-testid="evidence-count">
          {shown.length} of {items.length} items
        </span>
      </div>
      <EvidenceGrid items={shown} selected={selected} onToggle={toggle} onOpen={setViewing} onDropFiles={(files) => setDropped(files)} />
      {viewedItem && (
        <EvidenceViewer
          key={viewedItem.evidence.id}
          item={viewedItem}
          openCase={openCase}
          onClose={() => setViewing(null)}
          onChanged={() => setRefresh((n) => n + 1)}
          provenancePanel={props.renderProvenancePanel?.(viewedItem.evidence.id)}
        />
      )}
    </section>
  );
}
