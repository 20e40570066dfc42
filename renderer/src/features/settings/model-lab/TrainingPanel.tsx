import { useEffect, useMemo, useState, type ReactElement } from 'react';
import type { LabDatasetInfo } from '../../../../../electron/shared/api-contract';
import { getApiClient } from '../../../api/api-client';
import { fmt, fmtSeconds } from './format';
import { LineChart } from './LineChart';
import { estimateLeft, trainingCurves, type Curves } from './training-curves';
import { useJobHistory } from './use-job-history';

type Backbone = 'mobilenet_v2' | 'inception_v3';

/** The paper's recipe (Baraheem & Nguyen 2023): Adam 1e-3, batch 64, reduce-on-plateau, best validation loss. */
const RECIPE = { epochs: 20, batchSize: 64, learningRate: 0.001, optimizer: 'adam' as const, seed: 1 };

/** Step 2: train on the chosen dataset, with live loss and accuracy curves, the learning-rate steps, time left and cancel. */
export function TrainingPanel(props: { dataset: LabDatasetInfo | null; onTrained(modelId: string): void }) {
  const [backbone, setBackbone] = useState<Backbone>('mobilenet_v2');
  const [head, setHead] = useState<'frozen' | 'fine-tune'>('frozen');
  const [unfreeze, setUnfreeze] = useState('1');
  const [features, setFeatures] = useState<'last' | 'taps'>('last');
  const [epochs, setEpochs] = useState(String(RECIPE.epochs));
  const [batchSize, setBatchSize] = useState(String(RECIPE.batchSize));
  const [learningRate, setLearningRate] = useState(String(RECIPE.learningRate));
  const [optimizer, setOptimizer] = useState<'adam' | 'rmsprop'>(RECIPE.optimizer);
  const [seed, setSeed] = useState(String(RECIPE.seed));
  const [leaveOneOut, setLeaveOneOut] = useState(false);
  const [mirror, setMirror] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { job, details, startedAt } = useJobHistory(jobId);
  const running = job?.status === 'running';
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [running]);
  useEffect(() => {
    setNow(Date.now());
    const id = (job?.result as { modelId?: string } | undefined)?.modelId;
    if (job?.status === 'done' && id) props.onTrained(id);
  }, [job?.status]);

  async function start() {
    setError(null);
    if (!props.dataset) return setError('Build or choose a dataset first (step 1).');
    try {
      const started = await getApiClient().call('jobs.start', {
        kind: 'training.run',
        datasetDir: props.dataset.dir,
        backbone,
        epochs: Number(epochs),
        batchSize: Number(batchSize),
        learningRate: Number(learningRate),
        optimizer,
        seed: Number(seed),
        ...(leaveOneOut && head === 'frozen' ? { leaveOneOut: ['generator' as const, 'modality' as const] } : {}),
        ...(head === 'fine-tune' ? { unfreeze: unfreeze === 'all' ? ('all' as const) : Number(unfreeze) } : {}),
        ...(head === 'frozen' && features === 'taps' ? { features } : {}),
        ...(head === 'frozen' && mirror ? { mirror: true } : {}),
      });
      setJobId(started.jobId);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const curves = useMemo(() => trainingCurves(details), [details]);
  const elapsed = startedAt ? (now - startedAt) / 1000 : 0;
  const left = running ? estimateLeft(details, curves, startedAt, now) : null;
  const result = job?.status === 'done' ? (job.result as { modelId: string; threshold?: { threshold: number }; test?: Record<string, number | null> }) : undefined;

  const field = (label: string, input: ReactElement, why: string) => (
    <div className="lab-field">
      <label>
        <span>{label}</span>
        {input}
      </label>
      <small>{why}</small>
    </div>
  );

  return (
    <section aria-labelledby="lab-train-title" className="lab-step">
      <h4 id="lab-train-title">2 · Training</h4>
      <p className="lab-hint">
        Defaults are the paper's recipe. The trained model is registered with its model card but is <strong>not</strong> made active: you choose
        that in the registry below, after its evaluation.
      </p>
      <div className="lab-fields">
        {field(
          'Backbone',
          <select aria-label="Backbone" value={backbone} onChange={(e) => setBackbone(e.target.value as Backbone)}>
            <option value="mobilenet_v2">MobileNetV2</option>
            <option value="inception_v3">InceptionV3</option>
          </select>,
          'The ImageNet network that turns an image into features; MobileNetV2 is fast on a CPU, InceptionV3 is the paper\'s (about 10× slower).',
        )}
        {field(
          'Head',
          <select aria-label="Head" value={head} onChange={(e) => setHead(e.target.value as 'frozen' | 'fine-tune')}>
            <option value="frozen">Frozen backbone, head only</option>
            <option value="fine-tune">Fine-tune backbone blocks</option>
          </select>,
          'Frozen: Dense 256 + BatchNorm + Dropout 0.5 + sigmoid on cached features (seconds). Fine-tuning also trains backbone blocks in onnxruntime (the whole MobileNetV2: about 22–23 images/s on 2 CPU cores, 20 epochs of the shipped dataset in about 0.8 hours).',
        )}
        {head === 'frozen' &&
          backbone === 'mobilenet_v2' &&
          field(
            'Features',
            <select aria-label="Features" value={features} onChange={(e) => setFeatures(e.target.value as 'last' | 'taps')}>
              <option value="last">Last map, averaged (the paper)</option>
              <option value="taps">Six depths, pooled (the shipped default)</option>
            </select>,
            'What the head reads. The paper averages the last feature map; the shipped default also reads the mean and spread of five earlier maps, which held up better on unseen photo collections and generators.',
          )}
        {head === 'fine-tune' &&
          field(
            'Blocks to fine-tune',
            <span>
              <input
                aria-label="Blocks to fine-tune"
                type="number"
                min={1}
                max={20}
                value={unfreeze === 'all' ? '' : unfreeze}
                disabled={unfreeze === 'all'}
                onChange={(e) => setUnfreeze(e.target.value)}
                className="lab-num"
              />{' '}
              <label>
                <input type="checkbox" checked={unfreeze === 'all'} onChange={(e) => setUnfreeze(e.target.checked ? 'all' : '1')} /> whole network
              </label>
            </span>,
            'How many of the backbone\'s last blocks learn with the head (or all of them); more adapts further and needs more data.',
          )}
        {field(
          'Epochs',
          <input aria-label="Epochs" type="number" min={1} max={500} value={epochs} onChange={(e) => setEpochs(e.target.value)} className="lab-num" />,
          'Passes over the training crops (paper: 20); the epoch with the best validation loss is kept.',
        )}
        {field(
          'Batch size',
          <input aria-label="Batch size" type="number" min={1} max={4096} value={batchSize} onChange={(e) => setBatchSize(e.target.value)} className="lab-num" />,
          'Crops per gradient step (paper: 64).',
        )}
        {field(
          'Learning rate',
          <input aria-label="Learning rate" type="number" step="any" min={0} max={1} value={learningRate} onChange={(e) => setLearningRate(e.target.value)} className="lab-num" />,
          'Step size (paper: 0.001); halved when the validation loss has not improved for 2 epochs (reduce-on-plateau).',
        )}
        {field(
          'Optimizer',
          <select aria-label="Optimizer" value={optimizer} onChange={(e) => setOptimizer(e.target.value as 'adam' | 'rmsprop')}>
            <option value="adam">Adam</option>
            <option value="rmsprop">RMSprop</option>
          </select>,
          'How each step uses the gradients; the paper found Adam best.',
        )}
        {field(
          'Seed',
          <input aria-label="Training seed" type="number" min={0} value={seed} onChange={(e) => setSeed(e.target.value)} className="lab-num" />,
          'Fixes initial weights, dropout and batch order, so the run can be repeated exactly.',
        )}
        {head === 'frozen' &&
          field(
            'Mirrored scoring',
            <input aria-label="Mirrored scoring" type="checkbox" checked={mirror} onChange={(e) => setMirror(e.target.checked)} />,
            'Score every image together with its left-right mirror (the mean of the two logits), as the shipped default does: a verdict cannot change when evidence is mirrored, at twice the analysis time. Evaluation, the threshold and the fused detector all use it.',
          )}
        {head === 'frozen' &&
          field(
            'Leave-one-out',
            <input aria-label="Leave-one-out folds" type="checkbox" checked={leaveOneOut} onChange={(e) => setLeaveOneOut(e.target.checked)} />,
            'Also retrain once per held-out generator and per held-out modality and test on it: the number that predicts an unseen generator (slower).',
          )}
      </div>
      <div className="lab-row">
        <button type="button" onClick={() => void start()} disabled={running || !props.dataset}>
          Start training
        </button>
        {running && (
          <button type="button" onClick={() => void getApiClient().call('jobs.cancel', { jobId: job!.id })}>
            Cancel training
          </button>
        )}
        {!props.dataset && <span className="lab-hint">Build or choose a dataset first.</span>}
      </div>
      {error && <p role="alert">{error}</p>}
      {job && (
        <p data-testid="training-status" role={job.status === 'failed' ? 'alert' : 'status'}>
          {job.status}
          {running && job.progress.message ? ` · ${job.progress.message}` : ''}
          {` · elapsed ${fmtSeconds(elapsed)}`}
          {left !== null ? ` · about ${fmtSeconds(left)} left` : ''}
          {job.status === 'cancelled' ? ' · the run was discarded; no model was registered' : ''}
          {job.error ? ` · ${job.error.code}: ${job.error.message}` : ''}
          {result ? ` · registered ${result.modelId} (not active)` : ''}
        </p>
      )}
      {curves.x.length > 0 && (
        <div className="lab-charts">
          <LineChart
            title="Loss (per batch and per epoch)"
            testId="loss-chart"
            xLabel="epoch"
            integerX
            yLabel="binary cross-entropy"
            x={curves.x}
            xRange={curves.totalEpochs ? [0, curves.totalEpochs] : undefined}
            ys={[curves.batchLoss, curves.loss, curves.valLoss]}
            series={[
              { label: 'train loss (per batch)', color: 'rgba(122,162,247,0.55)', width: 1, spanGaps: true },
              { label: 'train loss', color: '#7aa2f7', points: true, spanGaps: true },
              { label: 'validation loss', color: '#f7768e', points: true, spanGaps: true },
            ]}
            description={describeEpochs(curves, 'loss')}
            table={<EpochTable curves={curves} />}
          />
          <LineChart
            title="Accuracy per epoch"
            testId="accuracy-chart"
            xLabel="epoch"
            integerX
            yLabel="accuracy"
            x={curves.epochX}
            xRange={curves.totalEpochs ? [0, curves.totalEpochs] : undefined}
            ys={[curves.accuracy, curves.valAccuracy]}
            yRange={[0, 1]}
            series={[
              { label: 'train accuracy', color: '#9ece6a', points: true },
              { label: 'validation accuracy', color: '#e0af68', points: true },
            ]}
            description={describeEpochs(curves, 'accuracy')}
          />
        </div>
      )}
      {curves.lrSteps.length > 0 && (
        <div data-testid="lr-steps">
          <strong>Learning-rate steps (reduce-on-plateau):</strong>{' '}
          {curves.lrSteps.map((s) => `after epoch ${s.epoch - 1}: ${s.from} → ${s.to}`).join('; ')}
        </div>
      )}
      {result?.test && (
        <p data-testid="training-summary">
          Threshold {fmt(result.threshold?.threshold)} (chosen on validation) · test ROC-AUC {fmt(result.test.rocAuc)} · recall {fmt(result.test.recall)} · FPR{' '}
          {fmt(result.test.fpr)}. Full evaluation below.
        </p>
      )}
    </section>
  );
}

function describeEpochs(c: Curves, what: 'loss' | 'accuracy'): string {
  if (c.epochs.length === 0) return `No epoch has finished yet; ${c.x.length} batch points so far.`;
  const last = c.epochs[c.epochs.length - 1];
  const text =
    what === 'loss'
      ? `training loss ${fmt(last.loss)}, validation loss ${fmt(last.valLoss)}`
      : `training accuracy ${fmt(last.accuracy)}, validation accuracy ${fmt(last.valAccuracy)}`;
  return `${c.epochs.length} of ${c.totalEpochs ?? '?'} epochs; after epoch ${last.epoch}: ${text}, learning rate ${last.learningRate}.`;
}

function EpochTable({ curves }: { curves: Curves }) {
  return (
    <table className="grid" data-testid="epoch-table">
      <thead>
        <tr>
          <th>epoch</th>
          <th>train loss</th>
          <th>val loss</th>
          <th>train acc.</th>
          <th>val acc.</th>
          <th>learning rate</th>
        </tr>
      </thead>
      <tbody>
        {curves.epochs.map((e) => (
          <tr key={e.epoch}>
            <td>{e.epoch}</td>
            <td>{fmt(e.loss, 4)}</td>
            <td>{fmt(e.valLoss, 4)}</td>
            <td>{fmt(e.accuracy)}</td>
            <td>{fmt(e.valAccuracy)}</td>
            <td>{e.learningRate}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
