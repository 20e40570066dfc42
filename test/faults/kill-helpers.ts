// Starting a CLI child and killing it with SIGKILL the moment a condition on disk holds.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../fixtures/case-store/case-fixtures';

const CHILD = path.join(repoRoot, 'test/faults/children/case-cli-child.ts');

export function startCaseCli(dataDir: string, argv: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, ...argv], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
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
