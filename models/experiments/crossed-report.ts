// Markdown tables for EXPERIMENTS.md from crossed-experiments.ts results.
//   npx tsx models/experiments/crossed-report.ts <results.json> [--folds <row label>]
import fs from 'node:fs';
import type { CrossedSummary } from '../../electron/services/training/holdout-validation';

type Mode = { meanRocAuc: number; minRocAuc: number; meanFpr: number; maxFpr: number };
type Row = { label: string; testAuc: number | null; crossed: CrossedSummary; inference?: Record<string, Mode> };
const args = process.argv.slice(2);
const rows = JSON.parse(fs.readFileSync(args[0], 'utf8')) as Row[];
const f = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));
const sources = rows[0].crossed.byRealSource.map((r) => r.realSource);
console.log(`| configuration | test AUC | crossed mean AUC | worst fold | generators mean | worst generator | ${sources.map((s) => `FPR ${s}`).join(' | ')} | worst FPR |`);
console.log(`|---|---|---|---|---|---|${sources.map(() => '---|').join('')}---|`);
for (const r of rows) {
  const g = r.crossed.byGenerator.map((x) => x.meanRocAuc ?? 0);
  const gm = g.reduce((s, x) => s + x, 0) / g.length;
  const worst = r.crossed.byGenerator[0];
  console.log(
    `| ${r.label} | ${f(r.testAuc)} | ${f(r.crossed.meanRocAuc)} | ${f(r.crossed.minRocAuc)} | ${f(gm)} | ${worst.generator} ${f(worst.meanRocAuc)} | ${r.crossed.byRealSource.map((s) => f(s.fpr)).join(' | ')} | ${f(r.crossed.worstRealSourceFpr)} |`,
  );
}
console.log('');
console.log('| configuration | inference | crossed mean AUC (source files) | worst fold | mean FPR | worst fold FPR |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) for (const [m, v] of Object.entries(r.inference ?? {})) if (m !== 'outOfFold') console.log(`| ${r.label} | ${m} | ${f(v.meanRocAuc)} | ${f(v.minRocAuc)} | ${f(v.meanFpr)} | ${f(v.maxFpr)} |`);
const foldsOf = args.includes('--folds') ? rows.find((r) => r.label === args[args.indexOf('--folds') + 1]) : undefined;
if (foldsOf) {
  console.log('');
  console.log('| held-out real source | generator group | ROC-AUC | threshold (from fold val) | FPR held-out real | TPR held-out synthetic | real crops | synthetic items |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const x of foldsOf.crossed.folds) console.log(`| ${x.realSource} | ${x.generatorGroup} | ${f(x.rocAuc)} | ${x.threshold.toFixed(3)} | ${f(x.fprHeldOutReal)} | ${f(x.tprHeldOutSynthetic)} | ${x.testReal} | ${x.testSynthetic} |`);
  console.log('');
  console.log('| generator | folds | mean ROC-AUC vs the held-out real source |');
  console.log('|---|---|---|');
  for (const g of foldsOf.crossed.byGenerator) console.log(`| ${g.generator} | ${g.folds} | ${f(g.meanRocAuc)} |`);
}
