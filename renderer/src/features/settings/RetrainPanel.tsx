import { useState, type FormEvent } from 'react';
import { getApiClient } from '../../api/api-client';
import { useJob } from '../../api/use-job';

/** Retrains the detector head on a built dataset folder, with live progress and cancel. */
export function RetrainPanel() {
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const job = useJob(jobId);
  const running = job?.status === 'running';

  async function start(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    try {
      setError(null);
      const started = await getApiClient().call('jobs.start', {
        kind: 'training.run',
        datasetDir: String(form.get('datasetDir') ?? '').trim(),
        backbone: String(form.get('backbone')) as 'mobilenet_v2' | 'inception_v3' | 'tiny_darknet',
        epochs: Number(form.get('epochs')),
        optimizer: String(form.get('optimizer')) as 'adam' | 'rmsprop',
        setDefault: form.get('setDefault') === 'on',
      });
      setJobId(started.jobId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const result = job?.status === 'done' ? (job.result as { modelId?: string } | undefined) : undefined;
  return (
    <section aria-labelledby="retrain-title">
      <h3 id="retrain-title">Retrain the detector</h3>
      <p>Build a dataset first with <code>npm run dataset</code>; training uses the paper's recipe (Adam 1e-3, batch 64, reduce-on-plateau, best validation loss).</p>
      <form className="stack" onSubmit={start} aria-label="Retrain">
        <input name="datasetDir" placeholder="Dataset folder (manifest.json)" aria-label="Dataset folder" required />
        <select name="backbone" aria-label="Backbone" defaultValue="mobilenet_v2">
          <option value="mobilenet_v2">MobileNetV2</option>
          <option value="inception_v3">InceptionV3</option>
        </select>
        <input name="epochs" type="number" min={1} max={500} defaultValue={20} aria-label="Epochs" />
        <select name="optimizer" aria-label="Optimizer" defaultValue="adam">
          <option value="adam">Adam</option>
          <option value="rmsprop">RMSprop</option>
        </select>
        <label>
          <input type="checkbox" name="setDefault" /> Use as the default detector
        </label>
        <button type="submit" disabled={running}>
          Start training
        </button>
        {running && (
          <button type="button" onClick={() => getApiClient().call('jobs.cancel', { jobId: job!.id })}>
            Cancel training
          </button>
        )}
      </form>
      {error && <p role="alert">{error}</p>}
      {job && (
        <p data-testid="training-status">
          {job.status} · {job.progress.message ?? ''}
          {job.error ? ` · ${job.error.message}` : ''}
          {result?.modelId ? ` · registered ${result.modelId}` : ''}
        </p>
      )}
    </section>
  );
}
