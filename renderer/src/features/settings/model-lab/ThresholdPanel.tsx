import { useMemo, useState } from 'react';
import type { LabModelInfo, OperatingPoint } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { RocChart, runEvaluation, type CurvePoint, type LabEvaluationResult } from './EvaluationPanel';
import { fmt } from './format';
import { waitForJob } from './use-job-history';

/** The ROC point an operating point picks (the server chooses on the full curve; this previews it). */
export function previewPoint(roc: CurvePoint[], point: OperatingPoint): CurvePoint | null {
  const usable = roc.filter((p) => p.threshold !== null);
  if (point.kind === 'threshold') return [...roc].filter((p) => p.threshold === null || p.threshold >= point.value).at(-1) ?? null;
  const ok = usable.filter((p) => (point.kind === 'max-fpr' ? p.x <= point.value + 1e-12 : p.y >= point.value - 1e-12));
  if (ok.length === 0) return null;
  return point.kind === 'max-fpr' ? ok.reduce((a, b) => (b.y > a.y ? b : a)) : ok.reduce((a, b) => (b.x < a.x ? b : a));
}

/** Step 5: another operating point on the validation ROC, saved as a new model version (the old card is never changed). */
export function ThresholdPanel(props: { models: LabModelInfo[]; onSaved(id: string): void }) {
  const [modelId, setModelId] = useState('');
  const [val, setVal] = useState<LabEvaluationResult | null>(null);
  const [kind, setKind] = useState<OperatingPoint['kind']>('max-fpr');
  const [value, setValue] = useState('1');
  const [newId, setNewId] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const chosen = modelId || props.models.find((m) => m.active)?.id || '';
  const point: OperatingPoint = { kind, value: kind === 'threshold' ? Number(value) : Number(value) / 100 };
  const preview = useMemo(() => (val && Number.isFinite(point.value) ? previewPoint(val.roc, point) : null), [val, kind, value]);

  async function showRoc() {
    setBusy(true);
    setMessage(null);
    try {
      setVal(await runEvaluation({ modelId: chosen, split: 'val' }));
    } catch (e) {
      setMessage({ kind: 'error', text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  }

  async function save() {
    setBusy(true);
    setMessage(null);
    try {
      const { jobId } = await getApiClient().call('jobs.start', {
        kind: 'model.threshold',
        modelId: val!.model.id,
        point,
        datasetDir: val!.datasetDir,
        ...(newId.trim() ? { newId: newId.trim() } : {}),
      });
      const job = await waitForJob(jobId);
      if (job.status !== 'done') throw new Error(job.error ? `${job.error.code}: ${job.error.message}` : `the job ${job.status}`);
      const r = job.result as { modelId: string; threshold: number; test: Record<string, number | null> };
      setMessage({ kind: 'ok', text: `Saved ${r.modelId}: threshold ${fmt(r.threshold)}, test recall ${fmt(r.test.recall)}, test FPR ${fmt(r.test.fpr)}. ${val!.model.id} is unchanged.` });
      props.onSaved(r.modelId);
    } catch (e) {
      setMessage({ kind: 'error', text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="lab-threshold-title" className="lab-step">
      <h4 id="lab-threshold-title">5 · Threshold</h4>
      <p className="lab-hint">
        The threshold turns p(synthetic) into a verdict. It is chosen on the validation split; a new operating point becomes a new model version with
        the same detector file and its own card.
      </p>
      <div className="lab-row">
        <label>
          Model{' '}
          <select aria-label="Model for the threshold" value={chosen} onChange={(e) => (setModelId(e.target.value), setVal(null))}>
            {props.models
              .filter((m) => !m.problem)
              .map((m) => (
                <option key={m.id} value={m.id}>
                  {m.id}
                </option>
              ))}
          </select>
        </label>
        <button type="button" disabled={busy || !chosen} onClick={() => void showRoc()}>
          Show validation ROC
        </button>
      </div>
      {val && (
        <>
          <RocChart
            title={`Validation ROC of ${val.model.id}`}
            testId="threshold-roc"
            roc={val.roc}
            auc={val.metrics.rocAuc}
            marker={preview && preview.threshold !== null ? { fpr: preview.x, tpr: preview.y, threshold: preview.threshold } : { ...val.operatingPoint, threshold: val.threshold }}
          />
          <p>
            Current threshold {fmt(val.threshold)}: validation FPR {fmt(val.operatingPoint.fpr)}, recall {fmt(val.operatingPoint.tpr)}.
            {preview && preview.threshold !== null && ` Chosen point: threshold ${fmt(preview.threshold)}, FPR ${fmt(preview.x)}, recall ${fmt(preview.y)}.`}
          </p>
          <div className="lab-row">
            <select aria-label="Operating point" value={kind} onChange={(e) => setKind(e.target.value as OperatingPoint['kind'])}>
              <option value="max-fpr">FPR at most (%)</option>
              <option value="min-recall">Recall at least (%)</option>
              <option value="threshold">Threshold</option>
            </select>
            <input aria-label="Operating point value" type="number" step="any" min={0} max={kind === 'threshold' ? 1 : 100} value={value} onChange={(e) => setValue(e.target.value)} className="lab-num" />
            <input aria-label="New model id" placeholder="new model id (optional)" value={newId} onChange={(e) => setNewId(e.target.value)} />
            <button type="button" disabled={busy} onClick={() => void save()}>
              Save as new model version
            </button>
          </div>
        </>
      )}
      {busy && <p role="status">Working…</p>}
      {message && (
        <p role={message.kind === 'error' ? 'alert' : 'status'} data-testid="threshold-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
