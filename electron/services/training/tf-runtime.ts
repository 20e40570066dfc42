// One place that decides which TensorFlow.js backend trains: tfjs-node (native) when it is installed,
// else the WebAssembly backend (XNNPACK: ~50× the pure-JS CPU backend on dense layers here), else
// pure JS. The wasm backend has no Conv2DBackpropFilter, so convolution fine-tuning asks for 'cpu'.
import { createRequire } from 'node:module';
import * as tfjs from '@tensorflow/tfjs';

export type Tf = typeof tfjs;
export type TrainingPurpose = 'dense' | 'convolution';

let nativeTf: Promise<Tf | undefined> | undefined;
let wasmRegistered: Promise<boolean> | undefined;

async function loadNative(): Promise<Tf | undefined> {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('@tensorflow/tfjs-node');
  } catch {
    return undefined;
  }
  try {
    const native = (await import(/* @vite-ignore */ '@tensorflow/tfjs-node' as string)) as Tf;
    await native.ready();
    return native;
  } catch {
    return undefined;
  }
}

async function registerWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return true;
  } catch {
    return false;
  }
}

export async function loadTf(purpose: TrainingPurpose = 'dense'): Promise<{ tf: Tf; backend: string }> {
  nativeTf ??= loadNative();
  const native = await nativeTf;
  if (native) return { tf: native, backend: native.getBackend() };
  wasmRegistered ??= registerWasm();
  const want = purpose === 'dense' && (await wasmRegistered) ? 'wasm' : 'cpu';
  if (tfjs.getBackend() !== want) {
    const ok = await tfjs.setBackend(want).catch(() => false);
    if (!ok) await tfjs.setBackend('cpu');
  }
  await tfjs.ready();
  return { tf: tfjs, backend: tfjs.getBackend() };
}
