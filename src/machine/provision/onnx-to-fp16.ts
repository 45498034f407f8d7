/**
 * An fp16 copy of a float32 ONNX model (the "keep_io_types" conversion): the network computes in
 * float16 while its inputs and outputs stay float32, so an engine feeds and reads it exactly like
 * the original. Pure: bytes in, bytes out; fields the conversion does not touch are copied as they
 * are on the wire.
 *
 * What stays float32, and why:
 * - Constant subgraphs (nodes fed only by initializers, such as RVM's in-graph uint8
 *   dequantisation Cast → Mul → Add): onnxruntime folds them when it loads the model, so they cost
 *   nothing at run time, and a Cast to float16 after them rounds each weight once instead of at
 *   every step.
 * - Shape arithmetic: whatever float feeds a Cast to an integer, a comparison or Resize's
 *   roi/scales (RVM's floor(H · downsample_ratio)). float16 holds integers exactly only up to 2048,
 *   so a 4K frame's size would come out wrong.
 * Everything else that yields a float becomes float16; a Cast is inserted wherever a value crosses
 * between the two, once per value.
 */
import { float16Tensor, ONNX_FLOAT16 } from './fp16.js';
import { ONNX_FLOAT, ONNX_INT64, ProtoWriter, attribute, node, readFields, readPackedInts, utf8, type ProtoField } from './onnx-proto.js';

const ONNX_BOOL = 9;

export class Fp16ConversionError extends Error {}

/** Ops whose output type is not their first input's. */
const OUTPUT_TYPE: Record<string, (inputs: (number | undefined)[], n: ParsedNode) => number | undefined> = {
  Shape: () => ONNX_INT64,
  Size: () => ONNX_INT64,
  NonZero: () => ONNX_INT64,
  ArgMax: () => ONNX_INT64,
  ArgMin: () => ONNX_INT64,
  Equal: () => ONNX_BOOL,
  Less: () => ONNX_BOOL,
  LessOrEqual: () => ONNX_BOOL,
  Greater: () => ONNX_BOOL,
  GreaterOrEqual: () => ONNX_BOOL,
  Not: () => ONNX_BOOL,
  And: () => ONNX_BOOL,
  Or: () => ONNX_BOOL,
  IsNaN: () => ONNX_BOOL,
  Where: (t) => t[1],
  Cast: (_t, n) => n.castTo,
  Constant: (_t, n) => n.constantType,
  ConstantOfShape: (_t, n) => n.constantType ?? ONNX_FLOAT,
};

/** Ops known to take and give their first input's type (and so to work in float16 as well). */
const SAME_TYPE = new Set(
  (
    'Abs Add AveragePool BatchNormalization Ceil Clip Concat Conv ConvTranspose DepthToSpace Div Elu Erf Exp Expand Flatten ' +
    'Floor Gather Gemm GlobalAveragePool GlobalMaxPool HardSigmoid HardSwish Identity InstanceNormalization LeakyRelu Log MatMul ' +
    'Max MaxPool Mean Min Mul Neg Pad Pow PRelu Range Reciprocal ReduceMax ReduceMean ReduceMin ReduceSum Relu Reshape Resize ' +
    'Round Selu Sigmoid Slice Softmax Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile Transpose Unsqueeze Upsample'
  ).split(' '),
);

/** Inputs that must be float32 whatever the data's type (Resize's roi and scales). */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

/** Ops that accept any input type as it is: no Cast in front of them. */
const ANY_INPUT = new Set(['Shape', 'Size', 'Cast']);

interface ParsedNode {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Every field but inputs and outputs, as read. */
  rest: ProtoField[];
  castTo?: number;
  constantType?: number;
}

function parseNode(bytes: Uint8Array<ArrayBufferLike>): ParsedNode {
  const n: ParsedNode = { op: '', inputs: [], outputs: [], rest: [] };
  for (const f of readFields(bytes)) {
    if (f.field === 1) n.inputs.push(utf8(f.bytes));
    else if (f.field === 2) n.outputs.push(utf8(f.bytes));
    else {
      if (f.field === 4) n.op = utf8(f.bytes);
      n.rest.push(f);
    }
  }
  // The domain may come after op_type on the wire: name the op once both are known.
  const domain = n.rest.find((f) => f.field === 7 && f.bytes.length > 0 && utf8(f.bytes) !== 'ai.onnx');
  if (domain) n.op = `${utf8(domain.bytes)}::${utf8(n.rest.find((f) => f.field === 4)!.bytes)}`;
  for (const f of n.rest.filter((f) => f.field === 5)) {
    const a = readFields(f.bytes);
    const name = utf8(a.find((x) => x.field === 1)?.bytes ?? new Uint8Array());
    if (n.op === 'Cast' && name === 'to') n.castTo = Number(a.find((x) => x.field === 3)?.int ?? 0n);
    const tensor = a.find((x) => x.field === 5);
    if ((n.op === 'Constant' || n.op === 'ConstantOfShape') && tensor) n.constantType = tensorType(tensor.bytes);
    if (n.op === 'Constant' && name === 'value_float') n.constantType = ONNX_FLOAT;
    if (n.op === 'Constant' && /^value_ints?$/.test(name)) n.constantType = ONNX_INT64;
  }
  return n;
}

function tensorType(bytes: Uint8Array<ArrayBufferLike>): number {
  return Number(readFields(bytes).find((f) => f.field === 2)?.int ?? 0n);
}

/** The elem_type of a graph input or output (ValueInfoProto → TypeProto → tensor_type). */
function valueInfoType(bytes: Uint8Array<ArrayBufferLike>): { name: string; type: number | undefined } {
  const f = readFields(bytes);
  const name = utf8(f.find((x) => x.field === 1)?.bytes ?? new Uint8Array());
  const typeProto = f.find((x) => x.field === 2);
  const tensor = typeProto && readFields(typeProto.bytes).find((x) => x.field === 1);
  const elem = tensor && readFields(tensor.bytes).find((x) => x.field === 1);
  return { name, type: elem ? Number(elem.int) : undefined };
}

/** A float32 initializer's values, from raw_data or float_data. */
function floatValues(fields: ProtoField[], name: string): { dims: number[]; data: Float32Array } {
  if (fields.some((f) => f.field === 14 && f.int === 1n) || fields.some((f) => f.field === 13)) {
    throw new Fp16ConversionError(`initializer ${name} keeps its data in an external file, which this conversion does not read`);
  }
  const dims = fields.filter((f) => f.field === 1).flatMap(readPackedInts).map(Number);
  const raw = fields.find((f) => f.field === 9);
  let data: Float32Array;
  if (raw) {
    const view = new DataView(raw.bytes.buffer, raw.bytes.byteOffset, raw.bytes.byteLength);
    data = new Float32Array(raw.bytes.byteLength / 4);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
  } else {
    const values: number[] = [];
    for (const f of fields.filter((x) => x.field === 4)) {
      if (f.wire === 5) values.push(new DataView(new Uint32Array([Number(f.int)]).buffer).getFloat32(0, true));
      else {
        const view = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
        for (let i = 0; i + 4 <= f.bytes.byteLength; i += 4) values.push(view.getFloat32(i, true));
      }
    }
    data = Float32Array.from(values);
  }
  return { dims, data };
}

function cast(input: string, output: string, to: number): ProtoWriter {
  return node({ op: 'Cast', name: `${output}__cast`, inputs: [input], outputs: [output], attrs: { to: { kind: 'int', value: to } } });
}

/** The nodes of a model's graph (op, inputs, outputs, Cast's `to`), in order: for checks and tests. */
export function readGraphNodes(onnxBytes: Uint8Array<ArrayBufferLike>): { op: string; inputs: string[]; outputs: string[]; castTo?: number }[] {
  const graphField = readFields(onnxBytes).find((f) => f.field === 7);
  if (!graphField) throw new Fp16ConversionError('not an ONNX model: no graph');
  return readFields(graphField.bytes)
    .filter((f) => f.field === 1)
    .map((f) => {
      const { op, inputs, outputs, castTo } = parseNode(f.bytes);
      return { op, inputs, outputs, castTo };
    });
}

export interface Fp16Result {
  onnx: Uint8Array;
  /** Nodes that compute in float16, and those kept in float32 (constant folding, shape arithmetic). */
  halfNodes: number;
  float32Nodes: number;
  /** float32 initializers stored as float16. */
  halfInitializers: number;
  castsInserted: number;
}

/** The float16 copy of `onnxBytes` (float32 interface kept). Throws Fp16ConversionError for what it cannot convert. */
export interface Fp16Options {
  /** metadata_props to add. */
  metadata?: Record<string, string>;
  /**
   * Ops whose float16 result is not good enough (a quotient of two small differences, as in a
   * guided filter's cov / (var + eps)): they, the `depth` float nodes that lead to them and
   * everything computed from them stay float32.
   */
  float32Around?: { ops: string[]; depth: number };
}

export function convertToFp16(onnxBytes: Uint8Array<ArrayBufferLike>, opts: Fp16Options = {}): Fp16Result {
  const metadata = opts.metadata ?? {};
  const modelFields = readFields(onnxBytes);
  const graphField = modelFields.find((f) => f.field === 7);
  if (!graphField) throw new Fp16ConversionError('not an ONNX model: no graph');
  const graphFields = readFields(graphField.bytes);
  if (graphFields.some((f) => f.field === 1 && readFields(f.bytes).some((x) => x.field === 5 && readFields(x.bytes).some((a) => a.field === 6 || a.field === 11)))) {
    throw new Fp16ConversionError('graphs with subgraphs (If, Loop, Scan) are not converted');
  }

  const nodes = graphFields.filter((f) => f.field === 1).map((f) => parseNode(f.bytes));
  const inits = new Map<string, ProtoField[]>();
  for (const f of graphFields.filter((x) => x.field === 5)) {
    const t = readFields(f.bytes);
    inits.set(utf8(t.find((x) => x.field === 8)?.bytes ?? new Uint8Array()), t);
  }
  const graphInputs = graphFields.filter((f) => f.field === 11).map((f) => valueInfoType(f.bytes));
  const graphOutputs = graphFields.filter((f) => f.field === 12).map((f) => valueInfoType(f.bytes));

  // Types and constness, in graph order (ONNX requires nodes to be topologically sorted).
  const type = new Map<string, number | undefined>();
  const constant = new Set<string>();
  for (const [name, t] of inits) {
    type.set(name, Number(t.find((x) => x.field === 2)?.int ?? 0n));
    constant.add(name);
  }
  for (const i of graphInputs) {
    type.set(i.name, i.type);
    constant.delete(i.name); // an initializer listed as an input is only a default
  }
  const producer = new Map<string, number>();
  const unknownOps = new Set<string>();
  nodes.forEach((n, k) => {
    const inTypes = n.inputs.map((i) => (i === '' ? undefined : type.get(i)));
    const missing = n.inputs.find((i) => i !== '' && !type.has(i));
    if (missing) throw new Fp16ConversionError(`node ${k} (${n.op}) reads ${missing} before anything produces it`);
    const rule = OUTPUT_TYPE[n.op];
    if (!rule && !SAME_TYPE.has(n.op)) unknownOps.add(n.op);
    const out = rule ? rule(inTypes, n) : inTypes[0];
    const isConst = n.op === 'Constant' || (n.inputs.some((i) => i !== '') && n.inputs.every((i) => i === '' || constant.has(i)));
    for (const o of n.outputs) {
      if (o === '') continue;
      type.set(o, out);
      producer.set(o, k);
      if (isConst) constant.add(o);
    }
  });
  if (unknownOps.size > 0) throw new Fp16ConversionError(`ops not known to the fp16 conversion: ${[...unknownOps].join(', ')}`);
  const isFloat = (v: string) => v !== '' && type.get(v) === ONNX_FLOAT;

  // Shape arithmetic: walk back from every float that ends up as an integer, a flag or a Resize scale.
  const keep = new Set<number>();
  const keepBack = (v: string) => {
    const k = producer.get(v);
    if (k === undefined || keep.has(k) || constant.has(v)) return;
    keep.add(k);
    for (const i of nodes[k].inputs) if (isFloat(i)) keepBack(i);
  };
  nodes.forEach((n, k) => {
    const outFloat = n.outputs.some(isFloat);
    n.inputs.forEach((i, pos) => {
      if (!isFloat(i)) return;
      if ((FLOAT32_INPUTS[n.op] ?? []).includes(pos) || (!outFloat && !ANY_INPUT.has(n.op)) || (n.op === 'Cast' && !outFloat)) keepBack(i);
    });
  });
  if (opts.float32Around) {
    const { ops, depth } = opts.float32Around;
    const back = (k: number, d: number) => {
      keep.add(k);
      if (d > 0) for (const i of nodes[k].inputs) if (isFloat(i) && !constant.has(i) && producer.has(i)) back(producer.get(i)!, d - 1);
    };
    const consumers = new Map<string, number[]>();
    nodes.forEach((n, k) => n.inputs.forEach((i) => consumers.set(i, [...(consumers.get(i) ?? []), k])));
    const queue = nodes.flatMap((n, k) => (ops.includes(n.op) ? [k] : []));
    for (const k of queue) back(k, depth);
    for (let q = 0; q < queue.length; q++) {
      for (const o of nodes[queue[q]].outputs) {
        for (const c of consumers.get(o) ?? []) {
          if (!keep.has(c) && nodes[c].outputs.some(isFloat)) {
            keep.add(c);
            queue.push(c);
          }
        }
      }
    }
  }
  const precision = nodes.map((n, k): 'half' | 'fp32' | 'any' => {
    if (n.op === 'Shape' || n.op === 'Size') return 'any';
    // Its value attribute says float32: the output stays that (a Cast follows where needed).
    if (n.op === 'ConstantOfShape') return 'fp32';
    const constNode = n.outputs.every((o) => o === '' || constant.has(o));
    return n.outputs.some(isFloat) && !keep.has(k) && !constNode ? 'half' : 'fp32';
  });

  // Where each float lives, and the copies the other side needs.
  const home = (v: string): 'half' | 'fp32' => {
    const k = producer.get(v);
    if (k !== undefined) return precision[k] === 'half' ? 'half' : 'fp32';
    return halfInit.has(v) ? 'half' : 'fp32';
  };
  const uses = new Map<string, Set<'half' | 'fp32'>>();
  const want = (n: ParsedNode, k: number, pos: number): 'half' | 'fp32' | null => {
    const i = n.inputs[pos];
    if (!isFloat(i) || precision[k] === 'any' || (n.op === 'Cast' && precision[k] === 'half')) return null;
    if ((FLOAT32_INPUTS[n.op] ?? []).includes(pos)) return 'fp32';
    return precision[k] === 'half' ? 'half' : 'fp32';
  };
  nodes.forEach((n, k) =>
    n.inputs.forEach((i, pos) => {
      const w = want(n, k, pos);
      if (w) (uses.get(i) ?? uses.set(i, new Set()).get(i)!).add(w);
    }),
  );
  const graphInputNames = new Set(graphInputs.map((i) => i.name));
  const halfInit = new Set<string>();
  for (const [name] of inits) {
    const u = uses.get(name);
    if (isFloat(name) && !graphInputNames.has(name) && u && u.size === 1 && u.has('half')) halfInit.add(name);
  }
  const outputNames = new Set(graphOutputs.filter((o) => o.type === ONNX_FLOAT).map((o) => o.name));
  // A graph output computed in float16 is produced under another name; the Cast back takes its own.
  const homeName = (v: string) => (outputNames.has(v) && home(v) === 'half' ? `${v}__fp16` : v);
  const copyName = (v: string, p: 'half' | 'fp32') => (p === 'fp32' && outputNames.has(v) ? v : `${v}__${p === 'half' ? 'fp16' : 'fp32'}`);
  const nameFor = (v: string, p: 'half' | 'fp32' | null) => (p === null || p === home(v) ? homeName(v) : copyName(v, p));

  const out: ProtoWriter[] = [];
  let casts = 0;
  const copiesOf = (v: string): ProtoWriter[] => {
    const needed = new Set([...(uses.get(v) ?? [])].filter((p) => p !== home(v)));
    if (outputNames.has(v) && home(v) === 'half') needed.add('fp32');
    return [...needed].map((p) => {
      casts++;
      return cast(homeName(v), copyName(v, p), p === 'half' ? ONNX_FLOAT16 : ONNX_FLOAT);
    });
  };
  for (const i of graphInputs) if (isFloat(i.name)) out.push(...copiesOf(i.name));
  for (const [name] of inits) if (isFloat(name) && !graphInputNames.has(name)) out.push(...copiesOf(name));
  nodes.forEach((n, k) => {
    const w = new ProtoWriter();
    n.inputs.forEach((i, pos) => w.string(1, i === '' ? '' : nameFor(i, want(n, k, pos))));
    for (const o of n.outputs) w.string(2, o === '' ? '' : homeName(o));
    for (const f of n.rest) {
      const isTo = n.op === 'Cast' && f.field === 5 && utf8(readFields(f.bytes).find((x) => x.field === 1)?.bytes ?? new Uint8Array()) === 'to';
      if (isTo && precision[k] === 'half' && n.castTo === ONNX_FLOAT) w.message(5, attribute('to', { kind: 'int', value: ONNX_FLOAT16 }));
      else w.raw(f.raw);
    }
    out.push(w);
    for (const o of n.outputs) if (isFloat(o)) out.push(...copiesOf(o));
  });

  const g = new ProtoWriter();
  for (const n of out) g.message(1, n);
  for (const f of graphFields) {
    if (f.field === 1 || f.field === 13) continue; // nodes written above; value_info types may no longer hold
    if (f.field === 5) {
      const name = utf8(readFields(f.bytes).find((x) => x.field === 8)?.bytes ?? new Uint8Array());
      if (halfInit.has(name)) {
        const { dims, data } = floatValues(inits.get(name)!, name);
        g.message(5, float16Tensor(name, dims, data));
        continue;
      }
    }
    g.raw(f.raw);
  }
  const m = new ProtoWriter();
  for (const f of modelFields) {
    if (f.field === 7) m.message(7, g);
    else m.raw(f.raw);
  }
  for (const [key, value] of Object.entries(metadata)) m.message(14, new ProtoWriter().string(1, key).string(2, value));
  const halfNodes = precision.filter((p) => p === 'half').length;
  return { onnx: m.finish(), halfNodes, float32Nodes: nodes.length - halfNodes, halfInitializers: halfInit.size, castsInserted: casts };
}
