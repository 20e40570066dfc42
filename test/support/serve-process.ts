import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const tsxBin = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

/** Starts the real `serve` entry (the browser transport) and resolves with its launch URL. */
export async function startServeProcess(dataDir: string): Promise<{ child: ChildProcess; url: string; launchUrl: string }> {
  const child = spawn(tsxBin, [path.join(repoRoot, 'electron/server/serve.ts'), '--json', '--data-dir', dataDir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const lines = readline.createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const { url, launchUrl } = JSON.parse(first);
  return { child, url, launchUrl };
}
