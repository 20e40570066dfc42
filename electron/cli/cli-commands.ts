// The command table. Each command is imported lazily so that `info` does not load tfjs or onnxruntime.
import type { CliContext } from './cli-context';
import type { ProviderPreference } from '../services/engine/execution-providers';
import { createApiServices } from '../services/api-handlers';

export type CliCommand = { summary: string; run(args: string[], ctx: CliContext): Promise<number> };

/** Ctrl-C cancels the running work cleanly (half-done ingests are rolled back by the store). */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}

export const cliCommands: Record<string, CliCommand> = {
  info: {
    summary: 'version, onnxruntime execution providers and data directory (JSON)',
    async run(_args, ctx) {
      const services = createApiServices({ dataDir: ctx.dataDir });
      try {
        const info = await services.handlers['app.info']({});
        process.stdout.write(JSON.stringify(info, null, ctx.json ? 0 : 2) + '\n');
        return 0;
      } finally {
        await services.dispose();
      }
    },
  },
  analyze: {
    summary: 'analyze <file|dir>... [--model <id>] [--threshold <t>] [--batch <n>] [--provider <p>]',
    async run(args, ctx) {
      const { runAnalyzeCommand } = await import('./analyze-command');
      return runAnalyzeCommand(args, ctx);
    },
  },
  case: {
    summary: 'case create|list|show|import|analyze|verify|audit|export|import-archive ...',
    async run(args, ctx) {
      const { runCaseCommand } = await import('./case-command');
      const { analyzeFiles, isAnalyzeFailure } = await import('../services/engine/analyze');
      const analyzeFile = async (file: string, provider: ProviderPreference) => {
        for await (const result of analyzeFiles([file], { dataDir: ctx.dataDir, provider })) {
          if (isAnalyzeFailure(result)) throw Object.assign(new Error(result.error.message), { code: result.error.code });
          return result;
        }
        throw new Error(`No result for ${file}`);
      };
      return runCaseCommand(args, { ...ctx, analyzeFile, signal: interruptSignal() });
    },
  },
  report: {
    summary: 'report <case> --out <file.pdf> [--evidence <id>...] | report verify <file.pdf>: PDF case reports',
    async run(args, ctx) {
      const { runReportCommand } = await import('./report-command');
      return runReportCommand(args, { ...ctx, signal: interruptSignal() });
    },
  },
  dataset: {
    summary: 'dataset --sources <dir> --out <dir> [--seed n]: build the 256x256 train/val/test set',
    async run(args, ctx) {
      const { runDatasetCommand } = await import('../services/dataset/dataset-command');
      return runDatasetCommand(args, ctx, interruptSignal());
    },
  },
  train: {
    summary: 'train --backbone <name> [options]: train and register a detector',
    async run(args, ctx) {
      const { runTrainCommand } = await import('./train-command');
      return runTrainCommand(args, ctx);
    },
  },
  evaluate: {
    summary: 'evaluate --model <id> --split test: eight metrics, per-generator/modality tables, curves',
    async run(args, ctx) {
      const { runEvaluateCommand } = await import('./evaluate-command');
      return runEvaluateCommand(args, ctx);
    },
  },
  explain: {
    summary: 'explain <image> --out <dir> [--methods gradcam,ablationcam,layercam,scorecam,lime]',
    async run(args, ctx) {
      const { runExplainCommand } = await import('./explain-command');
      return runExplainCommand(args, ctx);
    },
  },
  inspect: {
    summary: 'inspect <image>... [--out <dir>] [--ela-quality <q>] [--analyze]: metadata, generator traces, C2PA, spectrum, ELA',
    async run(args, ctx) {
      const { runInspectCommand } = await import('./inspect-command');
      return runInspectCommand(args, ctx);
    },
  },
  bench: {
    summary: 'bench analyze|explain|training|ingest|report|inspect: benchmarks against what the runtime allows',
    async run(args, ctx) {
      const [which, ...rest] = args;
      if (which === 'analyze') return (await import('./bench-analyze')).runAnalyzeBench(rest, ctx);
      if (which === 'explain') return (await import('./bench-explain')).runExplainBench(rest, ctx);
      if (which === 'training') return (await import('./bench-training')).runTrainingBench(rest, ctx);
      if (which === 'ingest') return (await import('./bench-ingest')).runIngestBench(rest, ctx);
      if (which === 'report') return (await import('./bench-report')).runReportBench(rest, ctx);
      if (which === 'inspect') return (await import('./bench-inspect')).runInspectBench(rest, ctx);
      ctx.printError('Usage: npm run bench -- analyze|explain|training|ingest|report|inspect [options]');
      return 2;
    },
  },
};
