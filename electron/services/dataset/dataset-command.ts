// `npm run dataset -- --sources ../shared/datasets --out <dir> [--seed n] [--json] [options]`
// Exit status: 0 built, 1 the build failed (typed error printed), 2 usage error.
import { buildDataset, type BuildDatasetOptions } from './build-dataset';
import { DatasetBuildError } from './dataset-errors';

export interface DatasetCommandIo {
  print(obj: unknown): void;
  json: boolean;
}

export const DATASET_USAGE = [
  'Usage: npm run dataset -- --sources <dir> --out <dir> [--seed <n>] [--json] [options]',
  '',
  'Builds 256x256 train/val/test items from <sources>/MANIFEST.csv into <out>/images/<split>/ and <out>/manifest.json.',
  'Splits are made by source image and by the README groups; re-running reuses files that already exist.',
  '  --seed <n>                  random seed for splits, crops and augmentation (default 1)',
  '  --crops-per-real <n|balance> mean crops per real photo, or balance against the synthetic items (default balance)',
  '  --max-crops-per-real <n>    most crops from one photo (default 8)',
  '  --crops-per-synthetic <n>   crops per synthetic file, each with its own draws (default 1)',
  '  --val <f> --test <f>        split fractions (default 0.15 each)',
  '  --limit-per-generator <n>   at most n synthetic files per generator (quick runs)',
  '  --limit-real <n>            at most n real photos (quick runs)',
  '  --concurrency <n>           images processed at once (default: cores, at most 4)',
  '  --no-history-matching       skip matching native sizes and JPEG history across the classes (pipeline 1 behaviour)',
  '  --prune                     delete item files of earlier runs that the new manifest does not list',
  '  --json                      print one JSON summary object instead of text',
].join('\n');

type Parsed = { options: Omit<BuildDatasetOptions, 'onProgress' | 'signal'>; json: boolean; help: boolean };

export function parseDatasetArgs(argv: readonly string[]): Parsed | { error: string } {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valued = ['--sources', '--out', '--seed', '--crops-per-real', '--max-crops-per-real', '--crops-per-synthetic', '--val', '--test', '--limit-per-generator', '--limit-real', '--concurrency'];
  const boolean = ['--json', '--prune', '--no-history-matching', '--help', '-h'];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (boolean.includes(name)) {
      flags.add(name);
      continue;
    }
    if (!valued.includes(name)) return { error: `Unknown argument "${arg}"` };
    const value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (value.startsWith('--') && eq < 0)) return { error: `${name} needs a value` };
    values.set(name, value);
  }
  const help = flags.has('--help') || flags.has('-h');
  if (help) return { options: { sourcesDir: '', outDir: '', seed: 1 }, json: flags.has('--json'), help };
  const sourcesDir = values.get('--sources');
  const outDir = values.get('--out');
  if (!sourcesDir) return { error: '--sources <dir> is required' };
  if (!outDir) return { error: '--out <dir> is required' };
  const integer = (name: string): number | undefined | { error: string } => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    return /^\d+$/.test(v) ? Number(v) : { error: `${name} must be a non-negative integer, got "${v}"` };
  };
  const number = (name: string): number | undefined | { error: string } => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    return v.trim() !== '' && Number.isFinite(n) ? n : { error: `${name} must be a number, got "${v}"` };
  };
  const parsed: Record<string, number | undefined> = {};
  for (const [name, read] of [
    ['--seed', integer],
    ['--max-crops-per-real', integer],
    ['--crops-per-synthetic', integer],
    ['--limit-per-generator', integer],
    ['--limit-real', integer],
    ['--concurrency', integer],
    ['--val', number],
    ['--test', number],
  ] as const) {
    const v = read(name);
    if (typeof v === 'object') return v;
    parsed[name] = v;
  }
  const cropsArg = values.get('--crops-per-real');
  let cropsPerRealImage: number | 'balance' | undefined;
  if (cropsArg !== undefined) {
    if (cropsArg === 'balance') cropsPerRealImage = 'balance';
    else if (Number.isFinite(Number(cropsArg))) cropsPerRealImage = Number(cropsArg);
    else return { error: `--crops-per-real must be a number or "balance", got "${cropsArg}"` };
  }
  const fractions = parsed['--val'] !== undefined || parsed['--test'] !== undefined ? { val: parsed['--val'] ?? 0.15, test: parsed['--test'] ?? 0.15 } : undefined;
  return {
    json: flags.has('--json'),
    help: false,
    options: {
      sourcesDir,
      outDir,
      seed: parsed['--seed'] ?? 1,
      ...(cropsPerRealImage !== undefined ? { cropsPerRealImage } : {}),
      ...(parsed['--max-crops-per-real'] !== undefined ? { maxCropsPerRealImage: parsed['--max-crops-per-real'] } : {}),
      ...(parsed['--crops-per-synthetic'] !== undefined ? { cropsPerSyntheticImage: parsed['--crops-per-synthetic'] } : {}),
      ...(fractions ? { fractions } : {}),
      ...(parsed['--limit-per-generator'] !== undefined ? { limitPerGenerator: parsed['--limit-per-generator'] } : {}),
      ...(parsed['--limit-real'] !== undefined ? { limitReal: parsed['--limit-real'] } : {}),
      ...(parsed['--concurrency'] !== undefined ? { concurrency: parsed['--concurrency'] } : {}),
      ...(flags.has('--prune') ? { prune: true } : {}),
      ...(flags.has('--no-history-matching') ? { matchSourceHistory: false } : {}),
    },
  };
}

export async function runDatasetCommand(argv: string[], io: DatasetCommandIo, signal?: AbortSignal): Promise<number> {
  const parsed = parseDatasetArgs(argv);
  const json = io.json || ('json' in parsed && parsed.json);
  if ('error' in parsed) {
    io.print(json ? { error: { code: 'USAGE', message: parsed.error } } : `${parsed.error}\n\n${DATASET_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    io.print(json ? { usage: DATASET_USAGE } : DATASET_USAGE);
    return 0;
  }
  let lastTenth = -1;
  try {
    const result = await buildDataset({
      ...parsed.options,
      signal,
      onProgress: (p) => {
        if (json || p.phase !== 'images') return;
        const tenth = Math.floor((10 * p.done) / p.total);
        if (tenth !== lastTenth) {
          lastTenth = tenth;
          io.print(`images: ${p.done}/${p.total} sources (${p.written} written, ${p.reused} reused)`);
        }
      },
    });
    const summary = {
      outDir: result.outDir,
      manifest: result.manifestPath,
      items: result.items,
      written: result.written,
      reused: result.reused,
      staleFiles: result.staleFiles,
      seed: parsed.options.seed,
      counts: result.counts,
    };
    if (json) io.print(summary);
    else {
      io.print(`Dataset: ${result.items} items in ${result.outDir} (${result.written} written, ${result.reused} reused)`);
      for (const [split, c] of Object.entries(result.counts)) {
        io.print(`  ${split.padEnd(5)} real ${String(c.real).padStart(4)}  synthetic ${String(c.synthetic).padStart(4)}  generators ${c.generators.length}`);
      }
      if (result.staleFiles > 0) io.print(`  ${result.staleFiles} files from other runs are not in the manifest (--prune deletes them)`);
      io.print(`Manifest: ${result.manifestPath}`);
    }
    return 0;
  } catch (e) {
    const code = e instanceof DatasetBuildError ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    io.print(json ? { error: { code, message } } : `Dataset build failed (${code}): ${message}`);
    return 1;
  }
}
