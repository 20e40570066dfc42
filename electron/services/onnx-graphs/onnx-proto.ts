// The subset of onnx.proto (github.com/onnx/onnx, onnx/onnx.proto, IR version 7+) the converter
// writes and reads. Field numbers are copied from that file; protobufjs encodes with them.
import protobuf from 'protobufjs';
import { ConversionError } from './conversion-error';

const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; SPARSE_TENSOR = 11; TYPE_PROTO = 13;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; SPARSE_TENSORS = 12; TYPE_PROTOS = 14;
  }
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  optional TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated TypeProto type_protos = 15;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7;
    STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11; UINT32 = 12; UINT64 = 13;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

export const ONNX_IR_VERSION = 7;
export const ONNX_OPSET = 13;
export const TENSOR_FLOAT = 1;
export const TENSOR_INT64 = 7;

/** AttributeProto.AttributeType values. */
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

type Int64 = number | { toNumber(): number };

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  floats?: number[];
  ints?: Int64[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: AttributeProto[];
}

export interface TensorProto {
  name: string;
  dims: Int64[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: Int64[];
}

export type Dim = number | string;

export interface ValueInfoProto {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: Array<{ dimValue?: Int64; dimParam?: string }> } } };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  docString?: string;
}

export interface ModelProto {
  irVersion: Int64;
  opsetImport: Array<{ domain?: string; version: Int64 }>;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphProto;
  metadataProps?: Array<{ key: string; value: string }>;
}

let modelType: protobuf.Type | undefined;

function onnxModelType(): protobuf.Type {
  if (!modelType) modelType = protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const type = onnxModelType();
  const problem = type.verify(model);
  if (problem) throw new ConversionError('BAD_ONNX', `the ONNX model does not fit the schema: ${problem}`);
  return type.encode(model as unknown as protobuf.Message).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    const msg = onnxModelType().decode(bytes) as unknown as ModelProto;
    if (!msg.graph || !Array.isArray(msg.graph.node)) throw new Error('no graph');
    return msg;
  } catch (e) {
    throw new ConversionError('BAD_ONNX', `not an ONNX model: ${(e as Error).message}`);
  }
}

export function int64(v: Int64 | undefined): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function valueInfo(name: string, dims: Dim[], elemType = TENSOR_FLOAT): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new ConversionError('BAD_SHAPE', `initializer ${name}: dims ${dims} hold ${count} values, data has ${data.length}`);
  // raw_data is little-endian; copy so the bytes do not alias a larger buffer.
  let raw: Uint8Array;
  if (LITTLE_ENDIAN) raw = new Uint8Array(Float32Array.from(data).buffer);
  else {
    raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  }
  return { name, dims, dataType: TENSOR_FLOAT, rawData: raw };
}

export function int64Tensor(name: string, values: number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims: [values.length], dataType: TENSOR_INT64, rawData: raw };
}

/** Float32 values of an initializer, whichever field holds them. */
export function readFloatTensor(t: TensorProto): Float32Array {
  if (t.dataType !== TENSOR_FLOAT) throw new ConversionError('BAD_ONNX', `initializer ${t.name} is not float32`);
  if (t.rawData && t.rawData.length) {
    const out = new Float32Array(t.rawData.length / 4);
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  return Float32Array.from(t.floatData ?? []);
}

export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: ATTR.INT, i }),
  float: (name: string, f: number): AttributeProto => ({ name, type: ATTR.FLOAT, f }),
  ints: (name: string, ints: number[]): AttributeProto => ({ name, type: ATTR.INTS, ints }),
  string: (name: string, s: string): AttributeProto => ({ name, type: ATTR.STRING, s: new TextEncoder().encode(s) }),
};

/** Collects nodes and initializers with unique names, in topological order of addition. */
export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly used = new Set<string>();

  has(name: string): boolean {
    return this.used.has(name);
  }

  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  floatConst(base: string, dims: number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  int64Const(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push(int64Tensor(name, values));
    return name;
  }

  /** Adds a node; returns its (first) output name. */
  node(opType: string, inputs: string[], outputBase: string, attributes: AttributeProto[] = [], exactOutputName = false): string {
    const output = exactOutputName ? outputBase : this.unique(outputBase);
    if (exactOutputName) {
      if (this.used.has(output)) throw new ConversionError('BAD_ONNX', `tensor name ${output} is used twice`);
      this.used.add(output);
    }
    this.nodes.push({ input: inputs, output: [output], name: `${opType}:${output}`, opType, attribute: attributes });
    return output;
  }

  /**
   * The nodes that the given outputs need (the builder's order kept), and the initializers they
   * read: a builder may emit a tensor in two layouts and let the graph use one.
   */
  liveGraph(outputs: readonly string[]): { nodes: NodeProto[]; initializers: TensorProto[] } {
    const needed = new Set(outputs);
    const keep: NodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.output.some((o) => needed.has(o))) continue;
      keep.push(n);
      for (const x of n.input) needed.add(x);
    }
    return { nodes: keep.reverse(), initializers: this.initializers.filter((t) => needed.has(t.name)) };
  }

  /** Adds a node of another operator set than ONNX's own (makeModel imports the domain). */
  domainNode(domain: string, opType: string, inputs: string[], outputBase: string, attributes: AttributeProto[] = []): string {
    const output = this.node(opType, inputs, outputBase, attributes);
    this.nodes[this.nodes.length - 1].domain = domain;
    return output;
  }
}

export function makeModel(graph: GraphProto, metadata: Record<string, string>, docString?: string): ModelProto {
  return {
    irVersion: ONNX_IR_VERSION,
    // Every other domain the nodes use is onnxruntime's (version 1 of each).
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...[...new Set(graph.node.map((n) => n.domain ?? '').filter((d) => d !== ''))].sort().map((domain) => ({ domain, version: 1 }))],
    producerName: 'ai-image-forensics tfjs-to-onnx',
    producerVersion: '1',
    docString,
    graph,
    metadataProps: Object.entries(metadata)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value })),
  };
}
