// `npm start`: launches the Electron app, or says in one sentence why it cannot and what to use instead.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../services/app/app-info';

const root = findRepoRoot();
const electronDir = path.join(root, 'node_modules', 'electron');

function electronBinary(): string | null {
  const pathFile = path.join(electronDir, 'path.txt');
  if (!fs.existsSync(pathFile)) return null;
  const bin = path.join(electronDir, 'dist', fs.readFileSync(pathFile, 'utf8').trim());
  return fs.existsSync(bin) ? bin : null;
}

let binary = electronBinary();
if (!binary && fs.existsSync(path.join(electronDir, 'install.js'))) {
  // Electron fetches its binary on first launch; offline this fails, and we say so plainly below.
  spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { stdio: 'ignore', timeout: 180_000 });
  binary = electronBinary();
}
if (!binary) {
  process.stderr.write(
    'The Electron binary is not installed and could not be downloaded (it needs the network on first launch), so run `npm run serve` to use the same app in your browser instead.\n',
  );
  process.exit(1);
}
const child = spawn(binary, [path.join(root, 'dist', 'electron', 'main.js'), ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
