import { useEffect, useState } from 'react';
import type { LabDatasetInfo } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { useJob } from '../../../api/use-job';

type Folder = { path: string; generator: string; modality: string };
const emptyFolder = (): Folder => ({ path: '', generator: '', modality: '' });

/** Step 1: labelled folders (or the bundled sources) → a dataset split by source image, with its counts. */
export function DatasetPanel(props: { dataset: LabDatasetInfo | null; onDataset(d: LabDatasetInfo | null): void }) {
  const [mode, setMode] = useState<'folders' | 'bundled'>('folders');
  const [real, setReal] = useState<Folder[]>([emptyFolder()]);
  const [synthetic, setSynthetic] = useState<Folder[]>([emptyFolder()]);
  const [maxPerFolder, setMaxPerFolder] = useState('');
  const [bundledLimit, setBundledLimit] = useState('');
  const [seed, setSeed] = useState('1');
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [built, setBuilt] = useState<LabDatasetInfo[]>([]);
  const latest = useJob(jobId);
  const job = latest && latest.id === jobId ? latest : null;
  const running = job?.status === 'running';

  const refresh = () =>
    getApiClient()
      .call('datasets.list', {})
      .then(setBuilt, () => undefined);
  useEffect(() => void refresh(), []);
  useEffect(() => {
    if (job?.status === 'done') {
      props.onDataset(job.result as LabDatasetInfo);
      void refresh();
    }
  }, [job?.status]);

  async function build() {
    setError(null);
    // The previous build's status must not stand for this one.
    setJobId(null);
    const n = (s: string) => (s.trim() === '' ? undefined : Number(s));
    const folder = (f: Folder, withGenerator: boolean) => ({
      path: f.path.trim(),
      ...(withGenerator && f.generator.trim() ? { generator: f.generator.trim() } : {}),
      ...(withGenerator && f.modality.trim() ? { modality: f.modality.trim() } : {}),
    });
    try {
      const source =
        mode === 'folders'
          ? {
              kind: 'folders' as const,
              real: real.filter((f) => f.path.trim()).map((f) => folder(f, false)),
              synthetic: synthetic.filter((f) => f.path.trim()).map((f) => folder(f, true)),
              ...(n(maxPerFolder) ? { maxImagesPerFolder: n(maxPerFolder) } : {}),
            }
          : { kind: 'bundled' as const, ...(n(bundledLimit) ? { limitPerGenerator: n(bundledLimit), limitReal: 4 * n(bundledLimit)! } : {}) };
      const started = await getApiClient().call('jobs.start', { kind: 'dataset.build', source, seed: n(seed) ?? 1 });
      setJobId(started.jobId);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const folderRows = (label: 'real' | 'synthetic', rows: Folder[], set: (f: Folder[]) => void) =>
    rows.map((f, i) => (
      <div className="lab-row" key={`${label}-${i}`}>
        <input
          aria-label={`${label === 'real' ? 'Real' : 'Synthetic'} folder ${i + 1}`}
          placeholder={label === 'real' ? '/path/to/real photographs' : '/path/to/generated images'}
          value={f.path}
          onChange={(e) => set(rows.map((r, j) => (j === i ? { ...r, path: e.target.value } : r)))}
          className="lab-path"
        />
        {label === 'synthetic' && (
          <>
            <input
              aria-label={`Generator of synthetic folder ${i + 1}`}
              placeholder="generator (optional)"
              value={f.generator}
              onChange={(e) => set(rows.map((r, j) => (j === i ? { ...r, generator: e.target.value } : r)))}
            />
            <input
              aria-label={`Modality of synthetic folder ${i + 1}`}
              placeholder="diffusion, gan… (optional)"
              value={f.modality}
              onChange={(e) => set(rows.map((r, j) => (j === i ? { ...r, modality: e.target.value } : r)))}
            />
          </>
        )}
        {rows.length > 1 && (
          <button type="button" onClick={() => set(rows.filter((_, j) => j !== i))} aria-label={`Remove ${label} folder ${i + 1}`}>
            Remove
          </button>
        )}
      </div>
    ));

  return (
    <section aria-labelledby="lab-data-title" className="lab-step">
      <h4 id="lab-data-title">1 · Data</h4>
      <p className="lab-hint">
        Images are read in place and never changed. Each source image goes to exactly one of train, validation and test (70/15/15), so no split sees
        another's image; crops are cached, so building the same choice again is quick.
      </p>
      <div role="radiogroup" aria-label="Data source" className="lab-row">
        <label>
          <input type="radio" name="lab-source" checked={mode === 'folders'} onChange={() => setMode('folders')} /> Labelled folders
        </label>
        <label>
          <input type="radio" name="lab-source" checked={mode === 'bundled'} onChange={() => setMode('bundled')} /> Bundled training sources
        </label>
      </div>
      {mode === 'folders' ? (
        <div className="lab-folders">
          <strong>Real photographs</strong>
          {folderRows('real', real, setReal)}
          <button type="button" onClick={() => setReal([...real, emptyFolder()])}>
            Add real folder
          </button>
          <strong>Synthetic images</strong>
          {folderRows('synthetic', synthetic, setSynthetic)}
          <button type="button" onClick={() => setSynthetic([...synthetic, emptyFolder()])}>
            Add synthetic folder
          </button>
          <label className="lab-row">
            At most
            <input aria-label="Images per folder" type="number" min={1} value={maxPerFolder} placeholder="all" onChange={(e) => setMaxPerFolder(e.target.value)} className="lab-num" />
            images per folder (a seeded draw; leave empty for all)
          </label>
        </div>
      ) : (
        <label className="lab-row">
          At most
          <input aria-label="Images per generator" type="number" min={1} value={bundledLimit} placeholder="all" onChange={(e) => setBundledLimit(e.target.value)} className="lab-num" />
          images per generator (and four times as many photographs; empty for the whole set)
        </label>
      )}
      <div className="lab-row">
        <label>
          Seed <input aria-label="Dataset seed" type="number" min={0} value={seed} onChange={(e) => setSeed(e.target.value)} className="lab-num" />
        </label>
        <button type="button" onClick={() => void build()} disabled={running}>
          Build dataset
        </button>
        {running && (
          <button type="button" onClick={() => void getApiClient().call('jobs.cancel', { jobId: job!.id })}>
            Cancel build
          </button>
        )}
        {built.length > 0 && (
          <label>
            or use a built one{' '}
            <select aria-label="Built datasets" value={props.dataset?.id ?? ''} onChange={(e) => props.onDataset(built.find((d) => d.id === e.target.value) ?? null)}>
              <option value="">—</option>
              {built.map((d) => (
                <option key={d.id} value={d.id}>
                  {d.id} · {d.items} crops · {d.description.slice(0, 60)}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {error && <p role="alert">{error}</p>}
      {job && (
        <p data-testid="dataset-status" role={job.status === 'failed' ? 'alert' : 'status'}>
          {job.status}
          {job.status === 'running' && job.progress.message ? ` · ${job.progress.message}` : ''}
          {job.error ? ` · ${job.error.message} (${job.error.code})` : ''}
        </p>
      )}
      {props.dataset && <DatasetSummary dataset={props.dataset} />}
    </section>
  );
}

export function DatasetSummary({ dataset }: { dataset: LabDatasetInfo }) {
  const skipped = dataset.folders.flatMap((f) => f.skipped.map((s) => ({ ...s, folder: f.path })));
  const skippedTotal = dataset.folders.reduce((s, f) => s + f.skippedTotal, 0);
  return (
    <div data-testid="dataset-summary" className="lab-summary">
      <p>
        <strong>{dataset.id}</strong> · {dataset.items} crops of 256×256 · {dataset.description} · {dataset.written} written, {dataset.reused} reused from
        the cache
      </p>
      <div className="lab-tables">
        <table className="grid" data-testid="dataset-splits">
          <caption>Crops per class and split</caption>
          <thead>
            <tr>
              <th>split</th>
              <th>real</th>
              <th>synthetic</th>
            </tr>
          </thead>
          <tbody>
            {(['train', 'val', 'test'] as const).map((s) => (
              <tr key={s}>
                <td>{s}</td>
                <td>{dataset.splits[s].real}</td>
                <td>{dataset.splits[s].synthetic}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table className="grid" data-testid="dataset-generators">
          <caption>Synthetic crops per generator and split</caption>
          <thead>
            <tr>
              <th>generator</th>
              <th>modality</th>
              <th>train</th>
              <th>val</th>
              <th>test</th>
            </tr>
          </thead>
          <tbody>
            {dataset.generators.map((g) => (
              <tr key={`${g.generator}-${g.modality}`}>
                <td>{g.generator}</td>
                <td>{g.modality}</td>
                <td>{g.train}</td>
                <td>{g.val}</td>
                <td>{g.test}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {skippedTotal > 0 && (
        <details data-testid="dataset-skipped">
          <summary>
            {skippedTotal} file{skippedTotal === 1 ? ' was' : 's were'} left out (unreadable, not an image, or a duplicate)
          </summary>
          <ul>
            {skipped.map((s) => (
              <li key={s.file}>
                {s.file}: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
