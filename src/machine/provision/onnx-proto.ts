/**
 * A minimal protobuf writer and the handful of ONNX messages the ncnn converter needs. Written by
 * hand so that provisioning adds no dependency: only the wire types ONNX uses here (varint,
 * length-delimited, fixed32) and only the fields we fill in. Field numbers are those of onnx.proto.
 */

const VARINT = 0;
const LEN = 2;
const I32 = 5;

/**
 * Base-128 varint of a non-negative integer, or of a negative one as its 64-bit two's complement
 * (10 bytes): that is how int64 fields carry negative values on the wire.
 */
export function varint(value: number | bigint): Uint8Array {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`varint: ${value} is not a safe integer`);
  let v = BigInt(value);
  if (v < 0n) v = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** The key that precedes every field: field number and wire type. */
export function fieldKey(field: number, wireType: number): Uint8Array {
  if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`protobuf field number ${field}`);
  return varint(field * 8 + wireType);
}

/** A message built up field by field; finish() joins the pieces once at the end. */
export class ProtoWriter {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(...chunks: Uint8Array[]): this {
    for (const c of chunks) {
      this.parts.push(c);
      this.size += c.length;
    }
    return this;
  }

  int(field: number, value: number | bigint): this {
    return this.push(fieldKey(field, VARINT), varint(value));
  }

  float(field: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.push(fieldKey(field, I32), b);
  }

  bytes(field: number, payload: Uint8Array): this {
    return this.push(fieldKey(field, LEN), varint(payload.length), payload);
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** A packed repeated varint field (how proto3 writes repeated scalars). */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const w = new ProtoWriter();
    for (const v of values) w.push(varint(v));
    return this.bytes(field, w.finish());
  }

  /** A packed repeated float field: little-endian float32s back to back. */
  packedFloats(field: number, values: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  /** Fields already encoded (copied unchanged from a message read with readFields). */
  raw(encoded: Uint8Array<ArrayBufferLike>): this {
    return this.push(encoded);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

// ---- ONNX messages (onnx.proto field numbers)

/** TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] };

/** AttributeProto.AttributeType values. */
const ATTR_TYPE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export function attribute(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  return w.int(20, ATTR_TYPE[a.kind]);
}

export interface NodeSpec {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export function node(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.op);
  for (const [name, value] of Object.entries(n.attrs ?? {})) w.message(5, attribute(name, value));
  return w;
}

/** A float32 initializer; raw_data is little-endian, as ONNX requires. */
export function floatTensor(name: string, dims: number[], data: Float32Array): ProtoWriter {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`tensor ${name}: dims ${dims.join('x')} hold ${count} values, got ${data.length}`);
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return new ProtoWriter().packedInts(1, dims).int(2, ONNX_FLOAT).string(8, name).bytes(9, raw);
}

/** A dimension: a fixed size, or a named symbolic one ("N", "H") that stays dynamic. */
export type Dim = number | string;

export function valueInfo(name: string, elemType: number, dims: Dim[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

export interface GraphSpec {
  name: string;
  nodes: ProtoWriter[];
  initializers: ProtoWriter[];
  inputs: ProtoWriter[];
  outputs: ProtoWriter[];
}

export function graph(g: GraphSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, n);
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, t);
  for (const i of g.inputs) w.message(11, i);
  for (const o of g.outputs) w.message(12, o);
  return w;
}

export interface ModelSpec {
  graph: ProtoWriter;
  /** Default-domain opset, e.g. 13. */
  opset: number;
  /** ONNX IR version; 8 pairs with opsets up to 18. */
  irVersion?: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export function model(m: ModelSpec): Uint8Array {
  const w = new ProtoWriter()
    .int(1, m.irVersion ?? 8)
    .string(2, m.producerName)
    .string(3, m.producerVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, m.graph);
  w.message(8, new ProtoWriter().string(1, '').int(2, m.opset));
  for (const [key, value] of Object.entries(m.metadata ?? {})) w.message(14, new ProtoWriter().string(1, key).string(2, value));
  return w.finish();
}

// ---- reading

/** One field of a message as it is on the wire; `raw` is the whole field (key included), for copying it unchanged. */
export interface ProtoField {
  field: number;
  wire: number;
  /** varint and fixed values (as bigint, so int64 survives). */
  int: bigint;
  /** Length-delimited payload (a sub-message, a string, packed values, raw_data). */
  bytes: Uint8Array<ArrayBufferLike>;
  raw: Uint8Array<ArrayBufferLike>;
}

function readVarint(buf: Uint8Array<ArrayBufferLike>, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= buf.length) throw new RangeError('protobuf: truncated varint');
    const b = buf[at++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, at];
    shift += 7n;
    if (shift > 63n) throw new RangeError('protobuf: varint too long');
  }
}

/** The fields of one message in order. Sub-messages are not parsed: read their `bytes` again. */
export function readFields(buf: Uint8Array<ArrayBufferLike>): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  const empty: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  while (at < buf.length) {
    const start = at;
    const [key, afterKey] = readVarint(buf, at);
    at = afterKey;
    const wire = Number(key & 7n);
    const field = Number(key >> 3n);
    let int = 0n;
    let bytes = empty;
    if (wire === VARINT) [int, at] = readVarint(buf, at);
    else if (wire === LEN) {
      const [len, after] = readVarint(buf, at);
      bytes = buf.subarray(after, after + Number(len));
      if (bytes.length !== Number(len)) throw new RangeError('protobuf: truncated field');
      at = after + Number(len);
    } else if (wire === I32 || wire === 1) {
      const n = wire === I32 ? 4 : 8;
      if (at + n > buf.length) throw new RangeError('protobuf: truncated field');
      const view = new DataView(buf.buffer, buf.byteOffset + at, n);
      int = n === 4 ? BigInt(view.getUint32(0, true)) : view.getBigUint64(0, true);
      at += n;
    } else throw new RangeError(`protobuf: wire type ${wire} not supported`);
    out.push({ field, wire, int, bytes, raw: buf.subarray(start, at) });
  }
  return out;
}

/** A packed (or single) repeated varint field's values. */
export function readPackedInts(f: ProtoField): bigint[] {
  if (f.wire === VARINT) return [f.int];
  const out: bigint[] = [];
  let at = 0;
  while (at < f.bytes.length) {
    const [v, next] = readVarint(f.bytes, at);
    out.push(v);
    at = next;
  }
  return out;
}

export const utf8 = (b: Uint8Array<ArrayBufferLike>): string => new TextDecoder().decode(b);
