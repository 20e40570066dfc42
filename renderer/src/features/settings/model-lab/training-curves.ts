// Chart series from a training job's progress details (pure, so it is unit-tested without a browser).

export interface Curves {
  x: number[];
  batchLoss: Array<number | null>;
  loss: Array<number | null>;
  valLoss: Array<number | null>;
  epochX: number[];
  accuracy: Array<number | null>;
  valAccuracy: Array<number | null>;
  epochs: Array<{ epoch: number; loss: number; valLoss?: number; accuracy?: number; valAccuracy?: number; learningRate: number }>;
  lrSteps: Array<{ epoch: number; from: number; to: number }>;
  totalEpochs: number | null;
}

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Chart series from the job's progress details: batch losses at fractional epochs, epoch records at whole ones. */
export function trainingCurves(details: Array<Record<string, unknown>>): Curves {
  const points = new Map<number, { batchLoss?: number | null; loss?: number | null; valLoss?: number | null }>();
  const epochs: Curves['epochs'] = [];
  let totalEpochs: number | null = null;
  for (const d of details) {
    if (d.kind === 'batch' && typeof d.epoch === 'number' && typeof d.batch === 'number' && typeof d.batches === 'number') {
      const x = d.epoch - 1 + d.batch / d.batches;
      points.set(x, { ...points.get(x), batchLoss: finite(d.loss) });
      totalEpochs = finite(d.epochs) ?? totalEpochs;
    } else if (d.kind === 'epoch' && typeof d.epoch === 'number') {
      points.set(d.epoch, { ...points.get(d.epoch), loss: finite(d.loss), valLoss: finite(d.valLoss) });
      if (!epochs.some((e) => e.epoch === d.epoch)) epochs.push(d as unknown as Curves['epochs'][number]);
      totalEpochs = finite(d.epochs) ?? totalEpochs;
    }
  }
  const x = [...points.keys()].sort((a, b) => a - b);
  const lrSteps: Curves['lrSteps'] = [];
  epochs.forEach((e, i) => {
    if (i > 0 && e.learningRate !== epochs[i - 1].learningRate) lrSteps.push({ epoch: e.epoch, from: epochs[i - 1].learningRate, to: e.learningRate });
  });
  return {
    x,
    batchLoss: x.map((k) => points.get(k)?.batchLoss ?? null),
    loss: x.map((k) => points.get(k)?.loss ?? null),
    valLoss: x.map((k) => points.get(k)?.valLoss ?? null),
    epochX: epochs.map((e) => e.epoch),
    accuracy: epochs.map((e) => finite(e.accuracy)),
    valAccuracy: epochs.map((e) => finite(e.valAccuracy)),
    epochs,
    lrSteps,
    totalEpochs,
  };
}

export function estimateLeft(details: Array<Record<string, unknown>>, curves: Curves, startedAt: number | null, now: number): number | null {
  if (!startedAt) return null;
  const elapsed = (now - startedAt) / 1000;
  const last = [...details].reverse().find((d) => d.kind === 'batch' || d.kind === 'epoch' || d.kind === 'features');
  if (!last) return null;
  if (last.kind === 'features' && typeof last.done === 'number' && typeof last.total === 'number' && last.done > 0) {
    return (elapsed / last.done) * (last.total - last.done);
  }
  const total = curves.totalEpochs;
  const done = typeof last.epoch === 'number' ? last.epoch - 1 + (typeof last.batch === 'number' && typeof last.batches === 'number' ? last.batch / last.batches : 1) : 0;
  if (!total || done <= 0) return null;
  return (elapsed / done) * Math.max(0, total - done);
}

