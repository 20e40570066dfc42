// Which onnxruntime execution provider runs the detector. The preference comes from settings; the
// choice is made by trying providers in order and falling back to cpu, and the reason for any fallback
// travels with every result so an examiner can state what hardware produced a number.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';

export const PROVIDER_NAMES = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];
export type ProviderPreference = 'auto' | ProviderName;

export function isProviderPreference(value: string): value is ProviderPreference {
  return value === 'auto' || (PROVIDER_NAMES as readonly string[]).includes(value);
}

/** What every command says about a --provider value it does not know. */
export function unknownProviderMessage(value: string): string {
  return `--provider must be one of auto, ${PROVIDER_NAMES.join(', ')}, got "${value}"`;
}

export interface ProviderAvailability {
  name: ProviderName;
  /** onnxruntime-node lists it for this platform. */
  listed: boolean;
  /** Its libraries ship inside the npm package (cuda needs a separate install). */
  bundled: boolean;
  /** Set once a session could not be created with it in this process. */
  failure?: string;
}

/** Why a provider could not be used, remembered per process so a broken GPU is tried only once. */
const providerFailures = new Map<ProviderName, string>();

export function recordProviderFailure(name: ProviderName, reason: string): void {
  if (name !== 'cpu') providerFailures.set(name, reason);
}

export function forgetProviderFailures(): void {
  providerFailures.clear();
}

/**
 * Whether the provider's shared libraries sit beside the onnxruntime binding. CUDA's are not in the
 * npm package (the install step downloads them, which needs the network); checking first avoids a
 * noisy native load failure on every machine without them.
 */
export function providerLibrariesPresent(name: ProviderName, platform: NodeJS.Platform = process.platform, arch = process.arch): boolean {
  if (name !== 'cuda') return true;
  try {
    const require = createRequire(import.meta.url);
    const binDir = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', platform, arch);
    const lib = platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return fs.existsSync(path.join(binDir, lib));
  } catch {
    return false;
  }
}

/**
 * Dawn (WebGPU) runs on Vulkan on Linux; without the loader it only prints a warning and fails. The
 * loader is looked for where dlopen looks: LD_LIBRARY_PATH first, then the system library folders.
 */
export function vulkanLoaderPresent(): boolean {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  const dirs = [...fromEnv, '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

/** What onnxruntime-node offers here, in our provider vocabulary. */
export function listProviderAvailability(): ProviderAvailability[] {
  const backends = listSupportedBackends();
  return PROVIDER_NAMES.map((name) => {
    const b = backends.find((x) => x.name === name);
    const failure = providerFailures.get(name);
    return {
      name,
      listed: name === 'cpu' || b !== undefined,
      bundled: name === 'cpu' || b?.bundled === true,
      ...(failure ? { failure } : {}),
    };
  });
}

export interface ProviderPlan {
  /** Providers to try, best first; always ends with cpu. */
  order: ProviderName[];
  /** Providers skipped before trying, with the reason. */
  skipped: { name: ProviderName; reason: string }[];
}

/**
 * The order to try providers in. "auto" prefers native GPU providers (cuda, then DirectML on Windows,
 * CoreML on macOS), then WebGPU, then cpu. A named preference is tried first, then cpu.
 */
export function planProviders(preference: ProviderPreference = 'auto', platform: NodeJS.Platform = process.platform): ProviderPlan {
  const available = listProviderAvailability();
  const wanted: ProviderName[] =
    preference === 'auto' ? ['cuda', 'dml', 'coreml', 'webgpu'] : preference === 'cpu' ? [] : [preference];
  const order: ProviderName[] = [];
  const skipped: ProviderPlan['skipped'] = [];
  for (const name of wanted) {
    const a = available.find((x) => x.name === name)!;
    if (name === 'dml' && platform !== 'win32') skipped.push({ name, reason: 'DirectML exists only on Windows' });
    else if (name === 'coreml' && platform !== 'darwin') skipped.push({ name, reason: 'CoreML exists only on macOS' });
    else if (!a.listed) skipped.push({ name, reason: `onnxruntime-node does not offer ${name} on ${platform}` });
    else if (a.failure) skipped.push({ name, reason: a.failure });
    else if (name === 'webgpu' && platform === 'linux' && !vulkanLoaderPresent()) {
      skipped.push({ name, reason: 'WebGPU on Linux needs the Vulkan loader (libvulkan.so.1), which is not installed' });
    }
    else if (!a.bundled && !providerLibrariesPresent(name, platform)) {
      skipped.push({ name, reason: `${name} provider libraries are not installed (onnxruntime-node's install step downloads them; it was skipped or offline)` });
    }
    else order.push(name);
  }
  order.push('cpu');
  return { order, skipped };
}

/** Intra-op threads: all cores, since inference is the bottleneck and decoding runs between batches. */
export function defaultIntraOpThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, cores);
}

/** The text that explains a fallback, or undefined when the preferred provider was used. */
export function describeFallback(
  preference: ProviderPreference,
  used: ProviderName,
  attempts: { name: ProviderName; reason: string }[],
): string | undefined {
  if (preference === used) return undefined;
  if (preference === 'auto' && attempts.length === 0) return undefined;
  const tried = attempts.map((a) => `${a.name}: ${firstLine(a.reason)}`).join('; ');
  return `${preference === 'auto' ? 'no accelerator available' : `${preference} unavailable`}, using ${used}${tried ? ` (${tried})` : ''}`;
}

export function firstLine(text: string): string {
  // onnxruntime prefixes its messages with a source location and the failed check; keep the sentence.
  const stripped = text.replace(/^\/onnxruntime_src\/\S+ .*? was false\. /, '');
  const line = stripped.split('\n').find((l) => l.trim().length > 0) ?? stripped;
  return line.length > 300 ? `${line.slice(0, 297)}...` : line.trim();
}
