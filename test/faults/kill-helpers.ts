// Starting a CLI child and killing it with SIGKILL the moment a condition on disk holds.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../fixtures/case-store/case-fixtures';

const CHILDREN = path.join(repoRoot, 'test/faults/children');

/** node itself, not npx: a SIGKILL must hit the process that writes, not a wrapper. */
export function startCaseCli(dataDir: string, argv: string[]): ChildProcess {
  return drained(spawn(process.execPath, ['--import', 'tsx', path.join(CHILDREN, 'case-cli-child.ts'), dataDir, ...argv], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
}

export function startExplain(dataDir: string, evidenceId: string): ChildProcess {
  return drained(spawn(process.execPath, ['--import', 'tsx', path.join(CHILDREN, 'explain-child.ts'), dataDir, evidenceId], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
}

const stderrOf = new WeakMap<ChildProcess, string[]>();

/** Reads both pipes as they fill, so a chatty child never blocks on a full pipe before its kill. */
function drained(child: ChildProcess): ChildProcess {
  const err: string[] = [];
  stderrOf.set(child, err);
  child.stdout?.resume();
  child.stderr?.on('data', (d: Buffer) => err.push(d.toString()));
  return child;
}

/** Kills the child with SIGKILL after `ms`; resolves to whether it was still running then. */
export function killAfter(child: ChildProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}

/** Runs the child to its end; resolves to its exit code and how long it ran. */
export function runToEnd(child: ChildProcess): Promise<{ code: number | null; ms: number; stderr: string }> {
  const started = Date.now();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, ms: Date.now() - started, stderr: (stderrOf.get(child) ?? []).join('') })));
}

/**
 * Polls `moment` every millisecond or so and kills the child with SIGKILL once it returns true.
 * Resolves to whether the kill landed (false: the child finished first).
 */
export function killWhen(child: ChildProcess, moment: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const timer = setInterval(() => {
      if (done) return;
      let hit = false;
      try {
        hit = moment();
      } catch {
        hit = false;
      }
      if (hit) {
        done = true;
        clearInterval(timer);
        child.kill('SIGKILL');
      }
    }, 1);
    child.once('exit', (_code, signal) => {
      clearInterval(timer);
      resolve(signal === 'SIGKILL');
    });
  });
}
