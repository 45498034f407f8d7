/**
 * Reading ncnn models: the .param text (layers, blobs, k=v parameters) and the .bin weight file,
 * which has no index of its own — each layer takes its blobs in layer order, so the reader must
 * know, per layer type, what it consumes. Pure: bytes and text in, arrays out.
 */

export const NCNN_MAGIC = 7767517;

export interface NcnnLayer {
  type: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Scalar params by id ("0=64" → 0: "64"); arrays (ids written as -23300-id) by id too. */
  params: Map<number, string>;
  arrays: Map<number, string[]>;
}

export interface NcnnParam {
  layers: NcnnLayer[];
  blobCount: number;
}

export class NcnnFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NcnnFormatError';
  }
}

/** Parses a text .param file (not the binary .param.bin form). */
export function parseNcnnParam(text: string): NcnnParam {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (Number(lines[0]) !== NCNN_MAGIC) throw new NcnnFormatError(`not an ncnn text .param file: first line is "${lines[0] ?? ''}", expected ${NCNN_MAGIC}`);
  const counts = (lines[1] ?? '').split(/\s+/).map(Number);
  if (counts.length !== 2 || counts.some((n) => !Number.isInteger(n) || n < 0)) throw new NcnnFormatError(`bad layer/blob count line "${lines[1] ?? ''}"`);
  const [layerCount, blobCount] = counts;
  const layers: NcnnLayer[] = [];
  for (const [i, line] of lines.slice(2).entries()) {
    const tok = line.split(/\s+/);
    const where = `line ${i + 3} ("${line.slice(0, 60)}")`;
    if (tok.length < 4) throw new NcnnFormatError(`${where}: too few fields`);
    const [type, name, nIn, nOut] = tok;
    const inCount = Number(nIn);
    const outCount = Number(nOut);
    if (!Number.isInteger(inCount) || !Number.isInteger(outCount) || inCount < 0 || outCount < 0) throw new NcnnFormatError(`${where}: bad blob counts`);
    if (tok.length < 4 + inCount + outCount) throw new NcnnFormatError(`${where}: fewer blob names than announced`);
    const inputs = tok.slice(4, 4 + inCount);
    const outputs = tok.slice(4 + inCount, 4 + inCount + outCount);
    const params = new Map<number, string>();
    const arrays = new Map<number, string[]>();
    for (const kv of tok.slice(4 + inCount + outCount)) {
      const m = /^(-?\d+)=(.+)$/.exec(kv);
      if (!m) throw new NcnnFormatError(`${where}: bad parameter "${kv}"`);
      const key = Number(m[1]);
      if (key <= -23300) {
        // Arrays are written as -23300-id=count,v1,v2,...
        const [n, ...values] = m[2].split(',');
        if (Number(n) !== values.length) throw new NcnnFormatError(`${where}: array parameter ${kv} announces ${n} values, has ${values.length}`);
        arrays.set(-key - 23300, values);
      } else {
        params.set(key, m[2]);
      }
    }
    layers.push({ type, name, inputs, outputs, params, arrays });
  }
  if (layers.length !== layerCount) throw new NcnnFormatError(`header announces ${layerCount} layers, the file has ${layers.length}`);
  return { layers, blobCount };
}

export function intParam(layer: NcnnLayer, id: number, fallback: number): number {
  const raw = layer.params.get(id);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v)) throw new NcnnFormatError(`layer ${layer.name}: parameter ${id}=${raw} is not an integer`);
  return v;
}

export function floatParam(layer: NcnnLayer, id: number, fallback: number): number {
  const raw = layer.params.get(id);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new NcnnFormatError(`layer ${layer.name}: parameter ${id}=${raw} is not a number`);
  return v;
}

/** IEEE 754 half → float (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Tags that precede a "typed" weight blob in an ncnn .bin (ncnn's ModelBinFromDataReader). */
export const TAG_FP32 = 0;
export const TAG_FP16 = 0x01306b47;
export const TAG_FP32_SCALED = 0x0002c056;
export const TAG_INT8 = 0x000d4b38;

/**
 * Walks an ncnn .bin front to back. `typed` reads a weight blob that starts with a 4-byte tag
 * (Convolution weights); `raw` reads plain float32 (bias, PReLU slopes).
 */
export class NcnnBinReader {
  private at = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  private need(bytes: number, what: string): void {
    if (this.at + bytes > this.buf.length) {
      throw new NcnnFormatError(`.bin ends early: ${what} needs ${bytes} bytes at offset ${this.at}, ${this.remaining} left (does the .bin belong to this .param?)`);
    }
  }

  raw(count: number, what: string): Float32Array {
    this.need(count * 4, what);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(this.at + i * 4, true);
    this.at += count * 4;
    return out;
  }

  typed(count: number, what: string): Float32Array {
    this.need(4, what);
    const tag = this.view.getUint32(this.at, true);
    this.at += 4;
    if (tag === TAG_FP16) {
      const bytes = Math.ceil((count * 2) / 4) * 4; // padded to 4 bytes
      this.need(bytes, what);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(this.view.getUint16(this.at + i * 2, true));
      this.at += bytes;
      return out;
    }
    if (tag === TAG_FP32 || tag === TAG_FP32_SCALED) return this.raw(count, what);
    // Any other non-zero tag is ncnn's 256-entry codebook quantisation.
    const kind = tag === TAG_INT8 ? 'int8-quantised' : 'codebook-quantised';
    throw new NcnnFormatError(`${what}: ${kind} weights (tag 0x${tag.toString(16).padStart(8, '0')}) are not supported; only float32 and fp16 ncnn models can be converted`);
  }
}
