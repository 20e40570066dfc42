// Counts of fault cases tried and held, per suite, so the README's numbers come from a run, not a guess.
// Each suite calls `ledger.held(name)` when a case's assertions passed; a failed case throws before it.
// With FAULTS_LEDGER=<file>, the counts are appended there as JSON lines when the suite ends.
import fs from 'node:fs';
import { afterAll } from 'vitest';

/** FAULTS_NIGHTLY=1 runs the long mode: more kill points, more random tampering. */
export const NIGHTLY = process.env.FAULTS_NIGHTLY === '1';

export function faultLedger(suite: string): { tried(name: string): void; held(name: string): void } {
  const tried = new Set<string>();
  const held = new Set<string>();
  afterAll(() => {
    const file = process.env.FAULTS_LEDGER;
    if (file) fs.appendFileSync(file, JSON.stringify({ suite, tried: tried.size, held: held.size, nightly: NIGHTLY }) + '\n');
  });
  return { tried: (name) => void tried.add(name), held: (name) => void held.add(name) };
}
