// `npm run train` as a child process (node itself, so a SIGKILL hits the process that writes), with
// its JSON lines collected; `killAt` decides, line by line, when to SIGKILL it.
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface TrainRunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
}

export function runTrainCli(repoRoot: string, args: string[], killAt?: (line: string, index: number) => boolean, env?: NodeJS.ProcessEnv): Promise<TrainRunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'electron/cli/cli-main.ts'), 'train', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const lines: string[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (killAt?.(line, lines.length - 1)) child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`train exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ code, signal, lines });
    });
  });
}
