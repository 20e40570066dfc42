// One optimiser step over every trainable weight as an ONNX graph (Adam or RMSprop, as tfjs computes
// them, with optional decoupled weight decay): weights, moments and gradients in, the updated weights
// and moments out. onnxruntime runs it on all threads, where the same loop in JavaScript took 7–10 %
// of a whole-MobileNetV2 training step. The step's learning rates and Adam's bias corrections are
// scalar inputs, so reduce-on-plateau and the step count need no new graph.
import { attr, encodeModel, makeModel, OnnxGraphBuilder, valueInfo } from './onnx-proto';

export interface OptimizerGraphParam {
  name: string;
  size: number;
  /** Uses the head's learning rate (else the backbone's). */
  head: boolean;
  /** Decoupled weight decay applies (kernels, not biases or BatchNorm γ/β). */
  decays: boolean;
}

export interface OptimizerGraphOptions {
  kind: 'adam' | 'rmsprop';
  beta1: number;
  beta2: number;
  rho: number;
  epsilon: number;
  weightDecay: number;
}

export const OPTIMIZER_INPUTS = { headLr: 'lr_head', backboneLr: 'lr_backbone', c1: 'bias_correction1', c2: 'bias_correction2' } as const;
/** Σ of every gradient: not finite when any gradient is not. */
export const OPTIMIZER_GRADIENT_SUM = 'gradient_sum';
export const optimizerNames = (param: string) => ({ weight: `w:${param}`, first: `m:${param}`, second: `v:${param}`, gradient: `g:${param}`, newWeight: `w_next:${param}`, newFirst: `m_next:${param}`, newSecond: `v_next:${param}` });

export function buildOptimizerGraph(params: readonly OptimizerGraphParam[], o: OptimizerGraphOptions): Uint8Array {
  const g = new OnnxGraphBuilder();
  const scalar = (base: string, v: number) => g.floatConst(base, [], new Float32Array([v]));
  const inputs = [valueInfo(OPTIMIZER_INPUTS.headLr, []), valueInfo(OPTIMIZER_INPUTS.backboneLr, [])];
  if (o.kind === 'adam') inputs.push(valueInfo(OPTIMIZER_INPUTS.c1, []), valueInfo(OPTIMIZER_INPUTS.c2, []));
  const outputs = [valueInfo(OPTIMIZER_GRADIENT_SUM, [])];
  const b1 = scalar('beta1', o.beta1);
  const ob1 = scalar('one_minus_beta1', 1 - o.beta1);
  const b2 = scalar('beta2', o.beta2);
  const ob2 = scalar('one_minus_beta2', 1 - o.beta2);
  const rho = scalar('rho', o.rho);
  const orho = scalar('one_minus_rho', 1 - o.rho);
  const eps = scalar('epsilon', o.epsilon);
  const decay = scalar('weight_decay', o.weightDecay);
  const sums: string[] = [];
  for (const p of params) {
    const n = optimizerNames(p.name);
    const dims = [p.size];
    inputs.push(valueInfo(n.weight, dims), valueInfo(n.second, dims), valueInfo(n.gradient, dims));
    if (o.kind === 'adam') inputs.push(valueInfo(n.first, dims));
    const lr = p.head ? OPTIMIZER_INPUTS.headLr : OPTIMIZER_INPUTS.backboneLr;
    const gg = g.node('Mul', [n.gradient, n.gradient], `${p.name}/g2`);
    let stepSize: string;
    if (o.kind === 'adam') {
      const m = g.node('Add', [g.node('Mul', [b1, n.first], `${p.name}/b1m`), g.node('Mul', [ob1, n.gradient], `${p.name}/b1g`)], n.newFirst, [], true);
      const v = g.node('Add', [g.node('Mul', [b2, n.second], `${p.name}/b2v`), g.node('Mul', [ob2, gg], `${p.name}/b2g`)], n.newSecond, [], true);
      const mHat = g.node('Div', [m, OPTIMIZER_INPUTS.c1], `${p.name}/mhat`);
      const denom = g.node('Add', [g.node('Sqrt', [g.node('Div', [v, OPTIMIZER_INPUTS.c2], `${p.name}/vhat`)], `${p.name}/rootv`), eps], `${p.name}/denom`);
      stepSize = g.node('Mul', [lr, g.node('Div', [mHat, denom], `${p.name}/ratio`)], `${p.name}/step`);
      outputs.push(valueInfo(n.newFirst, dims), valueInfo(n.newSecond, dims));
    } else {
      const v = g.node('Add', [g.node('Mul', [rho, n.second], `${p.name}/rv`), g.node('Mul', [orho, gg], `${p.name}/rg`)], n.newSecond, [], true);
      stepSize = g.node('Div', [g.node('Mul', [lr, n.gradient], `${p.name}/lrg`), g.node('Sqrt', [g.node('Add', [v, eps], `${p.name}/veps`)], `${p.name}/rootv`)], `${p.name}/step`);
      outputs.push(valueInfo(n.newSecond, dims));
    }
    if (p.decays && o.weightDecay) {
      const stepped = g.node('Sub', [n.weight, stepSize], `${p.name}/stepped`);
      g.node('Sub', [stepped, g.node('Mul', [g.node('Mul', [lr, decay], `${p.name}/lrdecay`), stepped], `${p.name}/decayed`)], n.newWeight, [], true);
    } else {
      g.node('Sub', [n.weight, stepSize], n.newWeight, [], true);
    }
    outputs.push(valueInfo(n.newWeight, dims));
    sums.push(g.node('ReduceSum', [n.gradient], `${p.name}/gsum`, [attr.int('keepdims', 0)]));
  }
  g.node('Sum', sums.length ? sums : [scalar('zero', 0)], OPTIMIZER_GRADIENT_SUM, [], true);
  return encodeModel(makeModel({ name: `optimizer ${o.kind}`, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs }, { purpose: 'optimizer-step', kind: o.kind }));
}
