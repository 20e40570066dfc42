// `npm run evaluate -- --model <id> --split test [--json] [--exclude-modality m|all]`
import path from 'node:path';
import type { BinaryMetrics } from '../services/evaluation/metrics';
import type { GroupMetrics } from '../services/evaluation/grouped-metrics';
import { ModelRegistryError } from '../services/engine/model-registry';
import { parseFlags, UsageError } from '../services/training/cli-args';
import { evaluateModel, type ModelEvaluation } from '../services/training/evaluate-model';
import { TrainingError } from '../services/training/training-errors';

export interface EvaluateCommandContext {
  dataDir: string;
  json: boolean;
  print(obj: unknown): void;
  printError(obj: unknown): void;
}

export const EVALUATE_USAGE = [
  'Usage: npm run evaluate -- [--model <id>] [--split test|val|train] [--dataset <dir>] [--json]',
  '                           [--exclude-modality <m>|all] [--out <dir>]',
  '',
  'Scores a dataset split with a registered detector (its fused ONNX file) at the threshold its model',
  'card chose on validation data, and prints Precision, Recall, F1, Accuracy, AP, ROC-AUC, FPR, FNR, the',
  'confusion matrix, per-generator and per-modality tables; writes ROC and precision-recall curve PNGs.',
  '  --model <id>              default: the default model',
  '  --dataset <dir>           built dataset (default <data-dir>/dataset)',
  '  --exclude-modality <m>    also retrain the head without modality m and test on it (the paper\'s',
  '                            Table 3); "all" does every synthetic modality',
  '  --out <dir>               where the curve PNGs go (default <data-dir>/evaluations/<model>-<split>)',
].join('\n');

const spec = {
  model: { type: 'string' },
  split: { type: 'string' },
  dataset: { type: 'string' },
  'exclude-modality': { type: 'list' },
  out: { type: 'string' },
  batch: { type: 'int' },
  json: { type: 'flag' },
  help: { type: 'flag' },
} as const;

const f = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

export function formatMetricsRow(name: string, m: BinaryMetrics): string {
  return `| ${name} | ${[m.precision, m.recall, m.f1, m.accuracy, m.ap, m.rocAuc, m.fpr, m.fnr].map((x) => f(x)).join(' | ')} |`;
}

const HEADER = '| | Precision | Recall | F1 | Accuracy | AP | ROC-AUC | FPR | FNR |\n|---|---|---|---|---|---|---|---|---|';

function groupTable(title: string, rows: GroupMetrics[]): string[] {
  return [
    '',
    title,
    '| group | images | Precision | Recall | F1 | Accuracy | AP | ROC-AUC | FPR | FNR |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const m = r.metrics;
      return `| ${r.group}${r.groupClass === 'real' ? ' (real)' : ''} | ${r.groupCount} | ${[m.precision, m.recall, m.f1, m.accuracy, m.ap, m.rocAuc, m.fpr, m.fnr].map((x) => f(x)).join(' | ')} |`;
    }),
  ];
}

export function formatEvaluation(e: ModelEvaluation): string {
  const m = e.evaluation.metrics;
  const c = m.confusion;
  const lines = [
    `Model ${e.model.id} (${e.model.backbone}), ${e.split} split, threshold ${f(e.threshold)} from the ${e.thresholdSource}`,
    '',
    HEADER,
    formatMetricsRow(`${e.split} (generator-balanced)`, m),
    '',
    'Confusion matrix (images):',
    '| | predicted real | predicted synthetic |',
    '|---|---|---|',
    `| real | ${c.tn} | ${c.fp} |`,
    `| synthetic | ${c.fn} | ${c.tp} |`,
    ...groupTable('Per modality (each synthetic modality against all real images of the split; cf. the paper\'s Table 4):', e.evaluation.perModality),
    ...groupTable('Per generator (each against all real images of the split; cf. the paper\'s Table 5):', e.evaluation.perGenerator),
  ];
  if (e.leaveOneModalityOut.length) {
    lines.push('', 'Leave-one-modality-out (trained without the modality, tested on it; cf. the paper\'s Table 3):', HEADER.replace('| |', '| held out |'));
    for (const r of e.leaveOneModalityOut) lines.push(formatMetricsRow(`${r.heldOut} (${r.testSynthetic} synthetic / ${r.testReal} real)`, r.metrics));
  }
  lines.push('', `Curves: ${e.curves.roc}, ${e.curves.pr}`, `(${e.seconds.toFixed(1)} s)`);
  return lines.join('\n');
}

export async function runEvaluateCommand(argv: string[], ctx: EvaluateCommandContext): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, spec);
    if (flags.help) {
      ctx.print(EVALUATE_USAGE);
      return 0;
    }
    if (flags._.length) throw new UsageError(`unexpected argument "${flags._[0]}"`);
    if (flags.split !== undefined && !['train', 'val', 'test'].includes(flags.split as string)) throw new UsageError('--split must be train, val or test');
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.printError(ctx.json ? { error: { code: 'USAGE', message: e.message } } : `${e.message}\n\n${EVALUATE_USAGE}`);
      return 2;
    }
    throw e;
  }
  const json = ctx.json || flags.json === true;
  try {
    const result = await evaluateModel({
      dataDir: ctx.dataDir,
      datasetDir: path.resolve((flags.dataset as string | undefined) ?? path.join(ctx.dataDir, 'dataset')),
      modelId: flags.model as string | undefined,
      split: flags.split as 'train' | 'val' | 'test' | undefined,
      outDir: flags.out as string | undefined,
      excludeModalities: flags['exclude-modality'] as string[] | undefined,
      batchSize: flags.batch as number | undefined,
    });
    ctx.print(json ? { result } : formatEvaluation(result));
    return 0;
  } catch (e) {
    if (e instanceof TrainingError || e instanceof ModelRegistryError) {
      ctx.printError(json ? { error: { code: e.code, message: e.message } } : `${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
