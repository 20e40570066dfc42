// The converter layer by layer: small tfjs models with random weights, converted to ONNX and run in
// onnxruntime, must match tfjs (pure-JS CPU backend) on random inputs.
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConversionError } from '../../electron/services/onnx-graphs/conversion-error';
import { convertLayersModel, POOLED_OUTPUT, spatialPadding } from '../../electron/services/onnx-graphs/keras-to-onnx';
import { parseJsLiteral } from '../../electron/services/onnx-graphs/js-literal';
import { decodeModel, encodeModel, makeModel, valueInfo } from '../../electron/services/onnx-graphs/onnx-proto';
import type { LayersModelSource, WeightSpec } from '../../electron/services/onnx-graphs/tfjs-source';
import { decodeWeights } from '../../electron/services/onnx-graphs/tfjs-source';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Randomises every weight (BN variances stay positive) so no layer is an identity by accident. */
function randomiseWeights(model: tf.LayersModel, seed: number): void {
  const r = rng(seed);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (!ws.length) continue;
    layer.setWeights(
      ws.map((w, i) => {
        const isVariance = layer.getClassName() === 'BatchNormalization' && layer.weights[i].name.includes('moving_variance');
        const values = Float32Array.from({ length: w.size }, () => (isVariance ? 0.5 + r() : (r() - 0.5) * 0.8));
        return tf.tensor(values, w.shape);
      }),
    );
  }
}

async function toSource(model: tf.LayersModel): Promise<LayersModelSource> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = saved as tf.io.ModelArtifacts;
  const weightSpecs = a.weightSpecs as unknown as WeightSpec[];
  const data = a.weightData as ArrayBuffer;
  return { origin: `tfjs:${model.name}`, modelJson: { modelTopology: a.modelTopology as Record<string, unknown>, weightsManifest: [{ paths: [], weights: weightSpecs }] }, weightSpecs, weightData: data };
}

async function compare(model: tf.LayersModel, outputs: string[], inputShape: number[], seed = 1, batch = 2): Promise<Record<string, number>> {
  randomiseWeights(model, seed);
  const source = await toSource(model);
  const converted = convertLayersModel(source, { outputs, pooled: false });
  const session = await ort.InferenceSession.create(converted.bytes);
  const r = rng(seed + 100);
  const x = Float32Array.from({ length: batch * inputShape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
  const result = await session.run({ image: new ort.Tensor('float32', x, [batch, ...inputShape]) });
  const sub = tf.model({ inputs: model.inputs, outputs: outputs.map((o) => model.getLayer(o).output as tf.SymbolicTensor) });
  const predicted = sub.predict(tf.tensor(x, [batch, ...inputShape])) as tf.Tensor | tf.Tensor[];
  const refs = Array.isArray(predicted) ? predicted : [predicted];
  const diffs: Record<string, number> = {};
  outputs.forEach((o, i) => {
    const ref = refs[i].dataSync();
    const got = result[o].data as Float32Array;
    expect(result[o].dims).toEqual(refs[i].shape);
    expect(converted.outputs[i]).toEqual({ name: o, shape: refs[i].shape.slice(1) });
    let max = 0;
    for (let k = 0; k < ref.length; k++) max = Math.max(max, Math.abs(ref[k] - got[k]));
    diffs[o] = max;
  });
  await session.release();
  return diffs;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('tfjs layers → ONNX, layer by layer', () => {
  it('convolutions: TF "same" padding with stride 2 on even and odd sizes, dilation, depthwise, separable, bias and activations', async () => {
    for (const size of [32, 31]) {
      const input = tf.input({ shape: [size, size, 3] });
      const c1 = tf.layers.conv2d({ name: 'c1', filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
      const c2 = tf.layers.conv2d({ name: 'c2', filters: 4, kernelSize: [3, 2], strides: [2, 1], padding: 'same', useBias: false }).apply(c1) as tf.SymbolicTensor;
      const c3 = tf.layers.conv2d({ name: 'c3', filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh' }).apply(c2) as tf.SymbolicTensor;
      const d1 = tf.layers.depthwiseConv2d({ name: 'd1', kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'sigmoid' }).apply(c3) as tf.SymbolicTensor;
      const s1 = tf.layers.separableConv2d({ name: 's1', filters: 6, kernelSize: 3, depthMultiplier: 2, padding: 'valid', activation: 'relu6' as never }).apply(d1) as tf.SymbolicTensor;
      const c4 = tf.layers.conv2d({ name: 'c4', filters: 3, kernelSize: 1, activation: 'softmax' }).apply(s1) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: c4 });
      const diffs = await compare(model, ['c4', 'c1', 'd1', 's1'], [size, size, 3], size);
      for (const [name, d] of Object.entries(diffs)) expect(d, `${name} at ${size} px`).toBeLessThan(1e-5);
    }
  });

  it('batch normalisation (with and without scale), ReLU/ReLU6, LeakyReLU, padding, pooling, merges', async () => {
    const input = tf.input({ shape: [13, 13, 4] });
    const bn1 = tf.layers.batchNormalization({ name: 'bn1', epsilon: 1e-3 }).apply(input) as tf.SymbolicTensor;
    const relu6 = tf.layers.reLU({ name: 'relu6', maxValue: 6 }).apply(bn1) as tf.SymbolicTensor;
    const pad = tf.layers.zeroPadding2d({ name: 'pad', padding: [[0, 1], [2, 1]] }).apply(relu6) as tf.SymbolicTensor;
    const conv = tf.layers.conv2d({ name: 'conv', filters: 4, kernelSize: 3, useBias: false }).apply(pad) as tf.SymbolicTensor;
    const bn2 = tf.layers.batchNormalization({ name: 'bn2', scale: false }).apply(conv) as tf.SymbolicTensor;
    const leaky = tf.layers.leakyReLU({ name: 'leaky', alpha: 0.1 }).apply(bn2) as tf.SymbolicTensor;
    const maxSame = tf.layers.maxPooling2d({ name: 'max_same', poolSize: 3, strides: 2, padding: 'same' }).apply(leaky) as tf.SymbolicTensor;
    const avgSame = tf.layers.averagePooling2d({ name: 'avg_same', poolSize: 3, strides: 2, padding: 'same' }).apply(leaky) as tf.SymbolicTensor;
    const avgSame1 = tf.layers.averagePooling2d({ name: 'avg_same1', poolSize: 3, strides: 1, padding: 'same' }).apply(maxSame) as tf.SymbolicTensor;
    const relu = tf.layers.activation({ name: 'relu', activation: 'relu' }).apply(avgSame) as tf.SymbolicTensor;
    const add = tf.layers.add({ name: 'add' }).apply([avgSame1, relu, maxSame]) as tf.SymbolicTensor;
    const mul = tf.layers.multiply({ name: 'mul' }).apply([add, relu]) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate({ name: 'cat', axis: -1 }).apply([mul, avgSame, maxSame]) as tf.SymbolicTensor;
    const maxValid = tf.layers.maxPooling2d({ name: 'max_valid', poolSize: 2, strides: 2, padding: 'valid' }).apply(cat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: maxValid });
    const diffs = await compare(model, ['max_valid', 'bn1', 'relu6', 'pad', 'bn2', 'leaky', 'avg_same', 'avg_same1', 'add', 'cat'], [13, 13, 4], 3);
    for (const [name, d] of Object.entries(diffs)) expect(d, name).toBeLessThan(1e-5);
  });

  it('heads: flatten in NHWC order, reshape, dense with activations, dropout as identity, global pooling', async () => {
    const input = tf.input({ shape: [6, 5, 3] });
    const conv = tf.layers.conv2d({ name: 'conv', filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(conv) as tf.SymbolicTensor;
    const dense = tf.layers.dense({ name: 'dense', units: 7, activation: 'relu' }).apply(flat) as tf.SymbolicTensor;
    const drop = tf.layers.dropout({ name: 'drop', rate: 0.5 }).apply(dense) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: 'out', units: 3, activation: 'softmax' }).apply(drop) as tf.SymbolicTensor;
    const reshape = tf.layers.reshape({ name: 'reshape', targetShape: [10, 3, 4] }).apply(conv) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(reshape) as tf.SymbolicTensor;
    const gmp = tf.layers.globalMaxPooling2d({ name: 'gmp' }).apply(conv) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [out, gap, gmp] });
    const diffs = await compare(model, ['out', 'flat', 'reshape', 'gap', 'gmp'], [6, 5, 3], 5);
    for (const [name, d] of Object.entries(diffs)) expect(d, name).toBeLessThan(1e-5);
  });

  it('truncates at the requested layer, adds the pooled output, and keeps the batch dimension open', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ name: 'feat', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const head = tf.layers.dense({ name: 'unused_head', units: 2 }).apply(tf.layers.flatten().apply(conv) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: head });
    randomiseWeights(model, 9);
    const converted = convertLayersModel(await toSource(model), { outputs: ['feat'] });
    expect(converted.outputs).toEqual([{ name: 'feat', shape: [8, 8, 6] }, { name: POOLED_OUTPUT, shape: [6] }]);
    const decoded = decodeModel(converted.bytes);
    expect(decoded.graph.initializer.map((t) => t.name).some((n) => n.includes('unused_head'))).toBe(false);
    const session = await ort.InferenceSession.create(converted.bytes);
    for (const batch of [1, 3]) {
      const x = Float32Array.from({ length: batch * 8 * 8 * 3 }, rng(batch));
      const res = await session.run({ image: new ort.Tensor('float32', x, [batch, 8, 8, 3]) });
      const feat = tf.tensor(res.feat.data as Float32Array, [batch, 8, 8, 6]);
      const mean = tf.mean(feat, [1, 2]).dataSync();
      const pooled = res.pooled.data as Float32Array;
      expect(res.pooled.dims).toEqual([batch, 6]);
      for (let i = 0; i < mean.length; i++) expect(Math.abs(pooled[i] - mean[i])).toBeLessThan(1e-6);
    }
    await session.release();
  });

  it('reads a fully convolutional model at another input size when asked', async () => {
    const build = (size: number) => {
      const input = tf.input({ shape: [size, size, 3] });
      const c1 = tf.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
      const d1 = tf.layers.depthwiseConv2d({ name: 'd1', kernelSize: 3, padding: 'same' }).apply(c1) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: d1 });
    };
    const small = build(8);
    randomiseWeights(small, 4);
    const source = await toSource(small);
    const converted = convertLayersModel(source, { outputs: ['d1'], inputSizeOverride: 12 });
    expect(converted.inputShape).toEqual([12, 12, 3]);
    expect(converted.outputs[0]).toEqual({ name: 'd1', shape: [6, 6, 4] });
    const large = build(12);
    large.layers.forEach((layer, i) => layer.setWeights(small.layers[i].getWeights()));
    const x = Float32Array.from({ length: 12 * 12 * 3 }, rng(3));
    const session = await ort.InferenceSession.create(converted.bytes);
    const got = (await session.run({ image: new ort.Tensor('float32', x, [1, 12, 12, 3]) })).d1.data as Float32Array;
    const ref = (large.predict(tf.tensor(x, [1, 12, 12, 3])) as tf.Tensor).dataSync();
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i])).toBeLessThan(1e-5);
    await session.release();
    for (const bad of [0, 12.5, -4]) expect(() => convertLayersModel(source, { outputs: ['d1'], inputSizeOverride: bad })).toThrow(ConversionError);
  });

  it('rejects unknown outputs and unsupported layers with typed errors', async () => {
    const input = tf.input({ shape: [4, 4, 2] });
    const up = tf.layers.upSampling2d({ name: 'up', size: [2, 2] }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: up });
    const source = await toSource(model);
    expect(() => convertLayersModel(source, { outputs: ['nope'] })).toThrowError(expect.objectContaining({ code: 'UNKNOWN_OUTPUT' }));
    expect(() => convertLayersModel(source, { outputs: ['up'] })).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED_LAYER' }));
    const truncated = { ...source, weightData: new ArrayBuffer(0) };
    const withWeights = tf.model({ inputs: input, outputs: tf.layers.conv2d({ name: 'c', filters: 1, kernelSize: 1 }).apply(input) as tf.SymbolicTensor });
    const src2 = await toSource(withWeights);
    expect(() => decodeWeights({ ...src2, weightData: truncated.weightData })).toThrowError(ConversionError);
  });
});

describe('TF padding arithmetic', () => {
  it('puts the odd pixel at the end, as TensorFlow does', () => {
    expect(spatialPadding(224, 3, 2, 1, 'same')).toEqual([0, 1, 112]);
    expect(spatialPadding(225, 3, 2, 1, 'same')).toEqual([1, 1, 113]);
    expect(spatialPadding(7, 3, 1, 2, 'same')).toEqual([2, 2, 7]);
    expect(spatialPadding(299, 3, 2, 1, 'valid')).toEqual([0, 0, 149]);
    expect(() => spatialPadding(2, 3, 1, 1, 'valid')).toThrowError(ConversionError);
  });
});

describe('reading the nsfwjs bundle literal', () => {
  it('parses minified object syntax without running it', () => {
    const text = 'a.exports={modelTopology:{keras_version:"2.2.4",sparse:!1,ok:!0,n:null,x:.5,y:-1e-3,"q k":[1,2,{z:\'s\\"t\'}]}}';
    const { value } = parseJsLiteral(text, text.indexOf('{'));
    expect(value).toEqual({ modelTopology: { keras_version: '2.2.4', sparse: false, ok: true, n: null, x: 0.5, y: -0.001, 'q k': [1, 2, { z: 's"t' }] } });
    expect(() => parseJsLiteral('{a:alert(1)}')).toThrowError(expect.objectContaining({ code: 'BAD_MODEL_SOURCE' }));
  });
});

describe('ONNX protobuf subset', () => {
  it('writes onnx.proto field numbers (ir_version=1, graph=7, opset_import=8) and reads them back', () => {
    const bytes = encodeModel(makeModel({ name: 'g', node: [{ input: ['x'], output: ['y'], opType: 'Relu' }], initializer: [], input: [valueInfo('x', ['N', 2])], output: [valueInfo('y', ['N', 2])] }, { k: 'v' }));
    // Field 1 varint (tag 0x08) = IR version 7 comes first; field 7 (graph, tag 0x3a) and 8 (opset, tag 0x42) follow.
    expect([bytes[0], bytes[1]]).toEqual([0x08, 7]);
    expect(Array.from(bytes)).toContain(0x3a);
    expect(Array.from(bytes)).toContain(0x42);
    const back = decodeModel(bytes);
    expect(back.graph.node[0].opType).toBe('Relu');
    expect(back.metadataProps).toEqual([{ key: 'k', value: 'v' }]);
    expect(() => decodeModel(new Uint8Array([0xff, 0xff, 0xff]))).toThrowError(expect.objectContaining({ code: 'BAD_ONNX' }));
  });
});
