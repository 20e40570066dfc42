// `npm run bench -- explain`: per-method latency and forward passes of the five explainers on CPU
// with the default backbone (MobileNetV2), against the bound of each method: the detector's own
// batched forward time for the passes it needs. Latency does not depend on the head's weights, so
// the detector gets a seeded random head, registered in a throw-away data dir (unless --model names
// a registered one). Wall time and process CPU time are both reported, because other work on the
// machine inflates the first and not the second.
import { benchOptionReader, seededRandomHead } from './bench-support';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildDetectorOnnx } from '../services/onnx-graphs';
import { findRepoRoot } from '../services/app/app-info';
import { findBackbone } from '../services/engine/backbones';
import { releaseDetectorSessions } from '../services/engine/detector-session';
import { ModelRegistry } from '../services/engine/model-registry';
import { createExplainer } from '../services/explainers/explain-image';
import { prepareExplainInput } from '../services/explainers/explain-input';
import { EXPLAIN_METHODS, type ExplainMethod } from '../services/explainers/explain-types';
import { LIME_DEFAULTS } from '../services/explainers/lime/lime-explainer';
import { openRegisteredModel, releaseExplainerSessions } from '../services/explainers/registered-model';
import { SCORECAM_DEFAULTS } from '../services/explainers/scorecam';

export interface BenchIo {
  print(obj: unknown): void;
  printError(obj: unknown): void;
  json?: boolean;
}

export interface ExplainBenchRow {
  method: ExplainMethod;
  forwardPasses: number;
  /** Median wall time of one explanation. */
  ms: number;
  /** Process CPU time (all threads) of one explanation. */
  cpuMs: number;
  /** The detector's batched forward time for the same passes: what the method cannot go below. */
  boundMs: number;
  ratio: number;
}

const USAGE = [
  'Usage: npm run bench -- explain [--image <file>] [--model <id>] [--backbone mobilenet_v2] [--repeats <n>] [--samples <n>] [--json]',
  'Per-method latency and forward passes vs the forward-pass bound (passes × batched forward time).',
].join('\n');


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function runExplainBench(argv: readonly string[], io: BenchIo): Promise<number> {
  const opt = benchOptionReader(argv);
  if (argv.includes('--help')) {
    io.print(USAGE);
    return 0;
  }
  const json = io.json || argv.includes('--json');
  const repeats = Number(opt('--repeats') ?? 3);
  const samples = Number(opt('--samples') ?? LIME_DEFAULTS.samples);
  if (!(Number.isInteger(repeats) && repeats > 0) || !(Number.isInteger(samples) && samples > 1)) {
    io.printError(USAGE);
    return 2;
  }
  const repoRoot = findRepoRoot();
  const image = path.resolve(opt('--image') ?? path.resolve(repoRoot, '../shared/datasets/real/lomiri-wallpapers-16.04__Bridge_by_Sander_Klootwijk.jpg'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-explain-'));
  try {
    let dataDir = work;
    let modelId = opt('--model');
    if (!modelId) {
      const backboneName = opt('--backbone') ?? 'mobilenet_v2';
      const backbone = findBackbone(repoRoot, backboneName);
      const dim = backbone.featureShape[2];
      const head = seededRandomHead(dim, 256, 11);
      modelId = `bench-${backboneName}`;
      const registry = new ModelRegistry({ dataDir, repoRoot });
      const model = await registry.register({
        detector: buildDetectorOnnx(backbone.path, head),
        card: {
          id: modelId,
          backbone: { name: backboneName, inputSize: backbone.inputSize, normalisation: backbone.normalisation, featureLayer: backbone.featureLayer, featureShape: backbone.featureShape },
          head: { inputDim: dim, hiddenUnits: 256 },
          trainingData: { summary: 'benchmark only: seeded random head (latency does not depend on the weights)' },
          threshold: 0.5,
        },
      });
      const { serialiseHeadWeights } = await import('../services/training/head-weights-file');
      fs.writeFileSync(path.join(path.dirname(model.cardPath), 'head-weights.json'), serialiseHeadWeights(head));
    } else {
      dataDir = opt('--data-dir') ?? dataDir;
    }
    const opened = await openRegisteredModel({ dataDir, modelId, repoRoot });
    const model = opened.model;
    const input = await prepareExplainInput(image, { inputSize: model.inputSize, normalisation: opened.normalisation });
    const per = model.inputSize * model.inputSize * 3;

    // Batched forward time of the detector, per batch size the methods use.
    const forwardMs = new Map<number, number>();
    const timeForward = async (n: number) => {
      if (forwardMs.has(n)) return forwardMs.get(n)!;
      const batch = new Float32Array(n * per);
      for (let i = 0; i < n; i++) batch.set(input.tensor, i * per);
      await model.predict(batch, n);
      const times: number[] = [];
      for (let r = 0; r < Math.max(3, repeats); r++) {
        const t0 = performance.now();
        await model.predict(batch, n);
        times.push(performance.now() - t0);
      }
      forwardMs.set(n, median(times));
      return forwardMs.get(n)!;
    };
    const limeBatch = LIME_DEFAULTS.batchSize;
    const scoreBatch = SCORECAM_DEFAULTS.batchSize;
    const bounds: Record<ExplainMethod, () => Promise<number>> = {
      gradcam: () => timeForward(1),
      ablationcam: () => timeForward(1),
      // One backbone pass for the shallow activations (cheaper than the detector's; bounded by it).
      layercam: () => timeForward(1),
      scorecam: async () => {
        const masked = SCORECAM_DEFAULTS.topK + 1;
        const full = Math.floor(masked / scoreBatch);
        const rest = masked % scoreBatch;
        return (await timeForward(1)) + full * (await timeForward(scoreBatch)) + (rest ? await timeForward(rest) : 0);
      },
      lime: async () => {
        const full = Math.floor(samples / limeBatch);
        const rest = samples % limeBatch;
        return full * (await timeForward(limeBatch)) + (rest ? await timeForward(rest) : 0);
      },
    };

    const rows: ExplainBenchRow[] = [];
    for (const method of EXPLAIN_METHODS) {
      const explainer = createExplainer(method, model, { lime: { samples } });
      await explainer.explain(input, { class: 'synthetic' }); // warm-up (lazy graphs, sessions)
      const walls: number[] = [];
      const cpus: number[] = [];
      let passes = 0;
      for (let r = 0; r < repeats; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const e = await explainer.explain(input, { class: 'synthetic' });
        walls.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpus.push((c.user + c.system) / 1000);
        passes = e.forwardPasses;
      }
      const boundMs = await bounds[method]();
      const ms = median(walls);
      rows.push({ method, forwardPasses: passes, ms, cpuMs: median(cpus), boundMs, ratio: ms / boundMs });
    }
    await model.dispose();
    const total = rows.reduce((s, r) => s + r.ms, 0);
    const totalBound = rows.reduce((s, r) => s + r.boundMs, 0);
    const summary = {
      image,
      model: { id: model.id, sha256: model.sha256 },
      provider: 'cpu',
      threads: os.availableParallelism(),
      forwardMsByBatch: Object.fromEntries(forwardMs),
      totalMs: total,
      totalBoundMs: totalBound,
      targetMs: 2000,
      limeSamples: samples,
    };
    if (json) {
      for (const r of rows) io.print(r);
      io.print(summary);
    } else {
      const f = (x: number) => x.toFixed(1);
      io.print(
        [
          `Explainers on ${model.id} (${model.inputSize}px), image ${path.basename(image)}, ${os.availableParallelism()} CPUs, median of ${repeats}`,
          '',
          '| method | forward passes | ms | CPU ms | bound ms | ms / bound |',
          '| --- | ---: | ---: | ---: | ---: | ---: |',
          ...rows.map((r) => `| ${r.method} | ${r.forwardPasses} | ${f(r.ms)} | ${f(r.cpuMs)} | ${f(r.boundMs)} | ${r.ratio.toFixed(2)} |`),
          `| **all five** | ${rows.reduce((s, r) => s + r.forwardPasses, 0)} | ${f(total)} | ${f(rows.reduce((s, r) => s + r.cpuMs, 0))} | ${f(totalBound)} | ${(total / totalBound).toFixed(2)} |`,
          '',
          `Detector forward ms by batch size: ${[...forwardMs].map(([b, t]) => `${b}: ${f(t)} (${f(t / b)}/image)`).join(', ')}`,
          `Target: all five ≤ 2000 ms with LIME at ${samples} samples.`,
        ].join('\n'),
      );
    }
    return 0;
  } finally {
    await releaseExplainerSessions();
    await releaseDetectorSessions();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const invokedDirectly = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  runExplainBench(process.argv.slice(2), { print: (o) => console.log(typeof o === 'string' ? o : JSON.stringify(o)), printError: (o) => console.error(o) }).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
