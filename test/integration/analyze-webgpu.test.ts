// The WebGPU execution provider for real, on a machine without a GPU. Debian's Chromium ships
// SwiftShader (Vulkan on the CPU) with its own Vulkan loader; pointing Dawn at them (LD_LIBRARY_PATH,
// VK_ICD_FILENAMES) gives onnxruntime a WebGPU adapter. The CLI then analyses real evidence with the
// shipped detector on the webgpu provider, which takes analyze's other path (decodes overlap
// inference, as beside any GPU), and explains one image with GradCAM; every verdict and the map are
// compared with the CPU's. SwiftShader is slow (seconds per image), so the set is small.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(__dirname, '../..');
const datasets = path.resolve(repoRoot, '../shared/datasets');
const chromiumLibs = process.env.CHROMIUM_LIB_DIR ?? '/usr/lib/chromium';
const swiftShaderIcd = path.join(chromiumLibs, 'vk_swiftshader_icd.json');

const evidence = [
  'real/Zelex-images__kodak__kodim01.png',
  'real/lomiri-wallpapers-16.04__aitzgorri_by_Aitzol_Berasategi.jpg',
  'synthetic/diffusion/stable-diffusion__000002025.png',
];

interface Line {
  path?: string;
  sha256?: string;
  pSynthetic?: number;
  verdict?: string;
  provider?: string;
  error?: { code: string };
  summary?: { analysed: number; failed: number; provider: string; providerNote?: string };
}

let work: string;
let inputs: string;

/** The CLI as a user runs it, with SwiftShader in reach for the webgpu runs. */
function cli(provider: 'cpu' | 'webgpu', args: string[]) {
  const env = { ...process.env };
  if (provider === 'webgpu') {
    env.LD_LIBRARY_PATH = [chromiumLibs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    env.VK_ICD_FILENAMES = swiftShaderIcd;
  }
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'electron/cli/cli-main.ts'), ...args, '--provider', provider, '--json', '--data-dir', path.join(work, `data-${provider}`)],
    { cwd: repoRoot, env, encoding: 'utf8', timeout: 240_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  return run;
}

const jsonLines = <T>(text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);

/** analyze's JSON lines: one per file on stdout, and the summary on stderr. */
function analyze(provider: 'cpu' | 'webgpu'): { files: Line[]; summary: NonNullable<Line['summary']> } {
  const run = cli(provider, ['analyze', inputs, '--batch', '2']);
  const summary = jsonLines<Line>(run.stderr).find((l) => l.summary)?.summary;
  expect(summary, run.stderr).toBeDefined();
  return { files: jsonLines<Line>(run.stdout), summary: summary! };
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'analyze-webgpu-'));
  inputs = path.join(work, 'evidence');
  fs.mkdirSync(inputs);
  evidence.forEach((rel, i) => fs.copyFileSync(path.join(datasets, rel), path.join(inputs, `${i}-${path.basename(rel)}`)));
  // A damaged file between good ones: its error line must not disturb the overlapped batches.
  const png = fs.readFileSync(path.join(datasets, evidence[0]));
  fs.writeFileSync(path.join(inputs, '1a-truncated.png'), png.subarray(0, png.length >> 1));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.runIf(process.platform === 'linux')('analyze on the WebGPU provider (SwiftShader)', () => {
  it('finds the SwiftShader Vulkan driver that Debian Chromium ships', () => {
    expect(fs.existsSync(swiftShaderIcd), `${swiftShaderIcd} (apt-get install chromium)`).toBe(true);
  });

  it('reports webgpu on every result and agrees with the CPU on every score and verdict', () => {
    const cpu = analyze('cpu');
    const gpu = analyze('webgpu');
    expect(gpu.files.map((l) => l.path)).toEqual(cpu.files.map((l) => l.path));
    expect(gpu.files.find((l) => l.path?.endsWith('1a-truncated.png'))?.error?.code).toBe('TRUNCATED');

    const scored = gpu.files.filter((l) => !l.error);
    expect(scored).toHaveLength(evidence.length);
    for (const line of scored) {
      const reference = cpu.files.find((l) => l.path === line.path)!;
      expect(line.provider).toBe('webgpu');
      expect(reference.provider).toBe('cpu');
      expect(line.sha256).toBe(reference.sha256);
      expect(Math.abs(line.pSynthetic! - reference.pSynthetic!)).toBeLessThan(1e-4);
      expect(line.verdict).toBe(reference.verdict);
    }
    expect(cpu.summary).toMatchObject({ analysed: evidence.length, failed: 1, provider: 'cpu' });
    expect(gpu.summary).toMatchObject({ analysed: evidence.length, failed: 1, provider: 'webgpu' });
    expect(gpu.summary.providerNote).toBeUndefined();
  }, 300_000);

  it('explains on webgpu too: the GradCAM map matches the CPU one', () => {
    interface ExplainLine { method: string; provider?: string; providerNote?: string; pSynthetic: number; peak: { x: number; y: number }; heatmap: string }
    const image = path.join(datasets, evidence[0]);
    const explain = (provider: 'cpu' | 'webgpu') => {
      const out = path.join(work, `explain-${provider}`);
      const [line] = jsonLines<ExplainLine>(cli(provider, ['explain', image, '--methods', 'gradcam', '--no-cache', '--out', out]).stdout);
      return { line, values: (JSON.parse(fs.readFileSync(line.heatmap, 'utf8')) as { values: number[] }).values };
    };
    const cpu = explain('cpu');
    const gpu = explain('webgpu');
    expect(cpu.line.provider).toBe('cpu');
    expect(gpu.line).toMatchObject({ method: 'gradcam', provider: 'webgpu', peak: cpu.line.peak });
    expect(gpu.line.providerNote).toBeUndefined();
    expect(Math.abs(gpu.line.pSynthetic - cpu.line.pSynthetic)).toBeLessThan(1e-4);
    expect(gpu.values).toHaveLength(cpu.values.length);
    expect(Math.max(...gpu.values.map((v, i) => Math.abs(v - cpu.values[i])))).toBeLessThan(1e-3);
  }, 300_000);
});
