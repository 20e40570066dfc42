import { useEffect, useRef, useState } from 'react';
import type { LabDatasetInfo, LabModelInfo } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { fmt, METRIC_COLUMNS } from './format';
import { LineChart } from './LineChart';
import { waitForJob } from './use-job-history';

export interface CurvePoint {
  x: number;
  y: number;
  threshold: number | null;
}

export interface LabEvaluationResult {
  model: { id: string; sha256: string; backbone: string };
  datasetDir: string;
  split: 'train' | 'val' | 'test';
  threshold: number;
  metrics: Record<string, unknown> & { confusion: { tp: number; fp: number; tn: number; fn: number }; n: number; weighted?: boolean };
  roc: CurvePoint[];
  pr: CurvePoint[];
  operatingPoint: { fpr: number | null; tpr: number | null };
  perGenerator: Array<Record<string, unknown> & { group: string; class: string; images: number }>;
  perModality: Array<Record<string, unknown> & { group: string; class: string; images: number }>;
  leaveOneOut: { generator?: unknown; modality?: unknown };
  images: { real: number; synthetic: number };
  seconds: number;
}

export interface EvaluationRequest {
  modelId: string;
  split: 'train' | 'val' | 'test';
  datasetDir?: string;
  /** A new value runs the evaluation now (after training). */
  runKey?: number;
  /** Bring the panel into view (a request from the registry, further down the page). */
  scroll?: boolean;
}

/** Runs evaluation.run and resolves with its result, or throws with the job's error. */
export async function runEvaluation(req: EvaluationRequest): Promise<LabEvaluationResult> {
  const { jobId } = await getApiClient().call('jobs.start', {
    kind: 'evaluation.run',
    modelId: req.modelId,
    split: req.split,
    ...(req.datasetDir ? { datasetDir: req.datasetDir } : {}),
  });
  const job = await waitForJob(jobId);
  if (job.status !== 'done') throw new Error(job.error ? `${job.error.code}: ${job.error.message}` : `evaluation ${job.status}`);
  return job.result as LabEvaluationResult;
}

/** Step 3: evaluate any registered model on any split of a dataset. */
export function EvaluationPanel(props: { models: LabModelInfo[]; datasets: LabDatasetInfo[]; request: EvaluationRequest | null }) {
  const [modelId, setModelId] = useState('');
  const [split, setSplit] = useState<'train' | 'val' | 'test'>('test');
  const [datasetDir, setDatasetDir] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<LabEvaluationResult | null>(null);
  const section = useRef<HTMLElement>(null);

  async function evaluate(req: EvaluationRequest) {
    setBusy(true);
    setError(null);
    try {
      setResult(await runEvaluation(req));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    if (!props.request) return;
    setModelId(props.request.modelId);
    setSplit(props.request.split);
    setDatasetDir(props.request.datasetDir ?? '');
    if (props.request.scroll) section.current?.scrollIntoView({ block: 'start' });
    void evaluate(props.request);
  }, [props.request?.runKey]);

  const chosen = modelId || props.models.find((m) => m.active)?.id || '';
  return (
    <section aria-labelledby="lab-eval-title" className="lab-step" ref={section}>
      <h4 id="lab-eval-title">3 · Evaluation</h4>
      <p className="lab-hint">
        Scores a split with the model's fused detector file (what analyses run) at the threshold on its card. Metrics are generator-balanced; the
        per-group rows count each image once.
      </p>
      <div className="lab-row">
        <label>
          Model{' '}
          <select aria-label="Model to evaluate" value={chosen} onChange={(e) => setModelId(e.target.value)}>
            {props.models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {m.active ? ' (active)' : ''}
              </option>
            ))}
          </select>
        </label>
        <label>
          Split{' '}
          <select aria-label="Split" value={split} onChange={(e) => setSplit(e.target.value as 'train' | 'val' | 'test')}>
            <option value="test">test</option>
            <option value="val">validation</option>
            <option value="train">train</option>
          </select>
        </label>
        <label>
          Dataset{' '}
          <select aria-label="Evaluation dataset" value={datasetDir} onChange={(e) => setDatasetDir(e.target.value)}>
            <option value="">the one it was trained on</option>
            {props.datasets.map((d) => (
              <option key={d.id} value={d.dir}>
                {d.id} · {d.items} crops
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={busy || !chosen} onClick={() => void evaluate({ modelId: chosen, split, ...(datasetDir ? { datasetDir } : {}) })}>
          Evaluate
        </button>
        {busy && <span role="status">Evaluating…</span>}
      </div>
      {error && (
        <p role="alert" data-testid="evaluation-error">
          {error}
        </p>
      )}
      {result && <EvaluationView ev={result} />}
    </section>
  );
}

export function MetricsTable({ rows, testId }: { rows: Array<{ name: string; metrics: Record<string, unknown> }>; testId?: string }) {
  return (
    <table className="grid" data-testid={testId}>
      <thead>
        <tr>
          <th></th>
          {METRIC_COLUMNS.map(([, label]) => (
            <th key={label}>{label}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name}>
            <th scope="row">{r.name}</th>
            {METRIC_COLUMNS.map(([key, label]) => (
              <td key={label} data-metric={key} title={(r.metrics.undefinedReasons as Record<string, string> | undefined)?.[key]}>
                {fmt(r.metrics[key])}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function GroupTable({ title, rows, testId }: { title: string; rows: LabEvaluationResult['perGenerator']; testId: string }) {
  return (
    <table className="grid" data-testid={testId}>
      <caption>{title}</caption>
      <thead>
        <tr>
          <th>group</th>
          <th>images</th>
          {METRIC_COLUMNS.map(([, label]) => (
            <th key={label}>{label}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.group}>
            <td>
              {r.group}
              {r.class === 'real' ? ' (real)' : ''}
            </td>
            <td>{r.images}</td>
            {METRIC_COLUMNS.map(([key, label]) => (
              <td key={label}>{fmt(r[key])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A few curve points as a table (the charts' text alternative). */
function CurveTable({ points, xName, yName }: { points: CurvePoint[]; xName: string; yName: string }) {
  const step = Math.max(1, Math.ceil(points.length / 12));
  const rows = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  return (
    <table className="grid">
      <thead>
        <tr>
          <th>threshold</th>
          <th>{xName}</th>
          <th>{yName}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((p, i) => (
          <tr key={i}>
            <td>{p.threshold === null ? '—' : fmt(p.threshold)}</td>
            <td>{fmt(p.x)}</td>
            <td>{fmt(p.y)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RocChart(props: { roc: CurvePoint[]; auc: unknown; marker: { fpr: number | null; tpr: number | null; threshold: number } | null; title: string; testId?: string }) {
  const m = props.marker;
  return (
    <LineChart
      title={props.title}
      testId={props.testId}
      xLabel="false-positive rate (real called synthetic)"
      yLabel="true-positive rate (recall)"
      x={props.roc.map((p) => p.x)}
      ys={[props.roc.map((p) => p.y), props.roc.map((p) => p.x)]}
      xRange={[0, 1]}
      yRange={[0, 1]}
      series={[
        { label: `ROC (AUC ${fmt(props.auc)})`, color: '#7aa2f7', width: 2 },
        { label: 'chance', color: 'rgba(200,209,220,0.45)', dash: [6, 6], width: 1 },
      ]}
      marker={m && m.fpr !== null && m.tpr !== null ? { x: m.fpr, y: m.tpr, label: `threshold ${fmt(m.threshold)}` } : null}
      description={`ROC curve through ${props.roc.length} points, area under it ${fmt(props.auc)}.${
        m ? ` At the threshold ${fmt(m.threshold)}: false-positive rate ${fmt(m.fpr)}, true-positive rate ${fmt(m.tpr)}.` : ''
      }`}
      table={<CurveTable points={props.roc} xName="FPR" yName="TPR" />}
    />
  );
}

export function EvaluationView({ ev }: { ev: LabEvaluationResult }) {
  const c = ev.metrics.confusion;
  const pr = [...ev.pr].reverse();
  const loo = (['generator', 'modality'] as const).filter((k) => ev.leaveOneOut[k]);
  return (
    <div data-testid="evaluation" className="lab-summary">
      <p>
        <strong>{ev.model.id}</strong> on the {ev.split} split of {ev.datasetDir}: {ev.images.real} real and {ev.images.synthetic} synthetic crops,
        threshold {fmt(ev.threshold)} (from the model card).
      </p>
      <MetricsTable rows={[{ name: `${ev.split} split`, metrics: ev.metrics }]} testId="metrics" />
      <table className="grid lab-confusion" data-testid="confusion">
        <caption>Confusion matrix (images)</caption>
        <thead>
          <tr>
            <th></th>
            <th>predicted real</th>
            <th>predicted synthetic</th>
          </tr>
        </thead>
        <tbody>
          <tr>
            <th scope="row">real</th>
            <td>{c.tn}</td>
            <td>{c.fp}</td>
          </tr>
          <tr>
            <th scope="row">synthetic</th>
            <td>{c.fn}</td>
            <td>{c.tp}</td>
          </tr>
        </tbody>
      </table>
      <div className="lab-charts">
        <RocChart title="ROC curve" testId="roc-chart" roc={ev.roc} auc={ev.metrics.rocAuc} marker={{ ...ev.operatingPoint, threshold: ev.threshold }} />
        <LineChart
          title="Precision-recall curve"
          testId="pr-chart"
          xLabel="recall"
          yLabel="precision"
          x={pr.map((p) => p.x)}
          ys={[pr.map((p) => p.y)]}
          xRange={[0, 1]}
          yRange={[0, 1]}
          series={[{ label: `PR (AP ${fmt(ev.metrics.ap)})`, color: '#bb9af7', width: 2 }]}
          marker={
            typeof ev.metrics.recall === 'number' && typeof ev.metrics.precision === 'number'
              ? { x: ev.metrics.recall, y: ev.metrics.precision, label: `threshold ${fmt(ev.threshold)}` }
              : null
          }
          description={`Precision-recall curve through ${pr.length} points, average precision ${fmt(ev.metrics.ap)}. At the threshold ${fmt(ev.threshold)}: recall ${fmt(ev.metrics.recall)}, precision ${fmt(ev.metrics.precision)}.`}
          table={<CurveTable points={pr} xName="recall" yName="precision" />}
        />
      </div>
      <GroupTable title="Per generator (each synthetic group against all real images of the split)" rows={ev.perGenerator} testId="per-generator" />
      <GroupTable title="Per modality" rows={ev.perModality} testId="per-modality" />
      {loo.length > 0 ? (
        loo.map((k) => <LeaveOneOut key={k} by={k} summary={ev.leaveOneOut[k]} />)
      ) : (
        <p className="lab-hint">No leave-one-out folds were computed for this model (tick Leave-one-out when training to record them in its card).</p>
      )}
    </div>
  );
}

function LeaveOneOut({ by, summary }: { by: 'generator' | 'modality'; summary: unknown }) {
  const s = summary as { folds?: Array<{ heldOut: string; rocAuc: number | null }>; mean?: number | null; min?: number | null };
  return (
    <table className="grid" data-testid={`leave-one-${by}-out`}>
      <caption>
        Leave-one-{by}-out ROC-AUC: mean {fmt(s.mean)}, worst {fmt(s.min)}
      </caption>
      <thead>
        <tr>
          <th>held out</th>
          <th>ROC-AUC</th>
        </tr>
      </thead>
      <tbody>
        {(s.folds ?? []).map((f) => (
          <tr key={f.heldOut}>
            <td>{f.heldOut}</td>
            <td>{fmt(f.rocAuc)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
