import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, tsxBin } from '../support/serve-process';

const cli = (args: string[]) =>
  spawnSync(tsxBin, [path.join(repoRoot, 'electron/cli/cli-main.ts'), ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('CLI', () => {
  it('info --json prints version, providers and the data directory', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-cli-'));
    const r = cli(['info', '--json', '--data-dir', dataDir]);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout.trim());
    expect(info.dataDir).toBe(dataDir);
    expect(info.version).toBe(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
    expect(info.providers.find((p: { name: string }) => p.name === 'cpu').available).toBe(true);
  });
  it('--help lists the commands; an unknown command is a usage error', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('info');
    const bad = cli(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('Unknown command');
  });
  it('refuses a data directory that is a file', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'forensics-cli-')), 'f');
    fs.writeFileSync(file, 'x');
    const r = cli(['info', '--data-dir', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('not a directory');
  });
});

describe('npm start without an Electron binary', () => {
  it('prints one clear sentence naming npm run serve', () => {
    const electronPathFile = path.join(repoRoot, 'node_modules/electron/path.txt');
    if (fs.existsSync(electronPathFile)) return; // a machine with Electron installed launches it instead
    const r = spawnSync(tsxBin, [path.join(repoRoot, 'electron/tools/launch-electron.ts')], { cwd: repoRoot, encoding: 'utf8', timeout: 240_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('npm run serve');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
