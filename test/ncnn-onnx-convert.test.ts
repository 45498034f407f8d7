import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ProtoWriter, attribute, fieldKey, floatTensor, varint } from '../src/machine/provision/onnx-proto.js';
import { NcnnBinReader, NcnnFormatError, TAG_FP16, TAG_INT8, halfToFloat, parseNcnnParam } from '../src/machine/provision/ncnn-model.js';
import { ncnnToOnnx } from '../src/machine/provision/ncnn-to-onnx.js';
import { mirror, planTiles, planarToTile, tileToPlanar } from '../src/pipeline/engines/upscale-tiles.js';
import { repoRoot } from './helpers/media.js';

const modelsDir = path.join(repoRoot, 'tools', 'realesrgan', 'models');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf encoding', () => {
  it('writes varints as base-128, little end first, and negatives as 10-byte two’s complement', () => {
    expect(hex(varint(0))).toBe('00');
    expect(hex(varint(1))).toBe('01');
    expect(hex(varint(127))).toBe('7f');
    expect(hex(varint(128))).toBe('8001');
    expect(hex(varint(300))).toBe('ac02');
    expect(hex(varint(2 ** 32))).toBe('8080808010');
    expect(hex(varint(Number.MAX_SAFE_INTEGER))).toBe('ffffffffffffff0f');
    expect(hex(varint(-1))).toBe('ffffffffffffffffff01');
    expect(hex(varint(-2n))).toBe('feffffffffffffffff01');
    expect(() => varint(1.5)).toThrow(RangeError);
  });

  it('keys fields by number and wire type', () => {
    expect(hex(fieldKey(1, 0))).toBe('08');
    expect(hex(fieldKey(2, 2))).toBe('12');
    expect(hex(fieldKey(20, 0))).toBe('a001');
    expect(() => fieldKey(0, 0)).toThrow(RangeError);
  });

  it('writes ints, floats, strings, nested messages and packed repeats', () => {
    const inner = new ProtoWriter().int(1, 150);
    const w = new ProtoWriter().int(1, 150).string(2, 'testing').float(3, 1.5).message(4, inner).packedInts(5, [3, 270, 86942]);
    expect(hex(w.finish())).toBe(
      '089601' + // field 1 varint 150 (the protobuf guide's example)
        '120774657374696e67' + // field 2 "testing"
        '1d0000c03f' + // field 3 fixed32 1.5
        '2203089601' + // field 4, a 3-byte message
        '2a06038e029ea705', // field 5 packed [3, 270, 86942] (the guide's example)
    );
  });

  it('encodes ONNX attributes with their type tag', () => {
    // name "k" (0a 01 6b), ints [3,3] packed (42 02 03 03), type INTS = 7 (a0 01 07)
    expect(hex(attribute('k', { kind: 'ints', value: [3, 3] }).finish())).toBe('0a016b42020303a00107');
    // name "m", s "CRD" (22 03 ...), type STRING = 3
    expect(hex(attribute('m', { kind: 'string', value: 'CRD' }).finish())).toBe('0a016d2203435244a00103');
  });

  it('writes float tensors as little-endian raw data and checks dims', () => {
    const t = hex(floatTensor('w', [2], Float32Array.from([1, -2])).finish());
    expect(t).toBe('0a0102' + '1001' + '420177' + '4a08' + '0000803f' + '000000c0');
    expect(() => floatTensor('w', [3], Float32Array.from([1]))).toThrow(/dims 3 hold 3 values/);
  });
});

describe('ncnn .param parsing', () => {
  it('reads the real realesr-animevideov3-x2 graph', () => {
    const p = parseNcnnParam(readFileSync(path.join(modelsDir, 'realesr-animevideov3-x2.param'), 'utf8'));
    expect(p.layers).toHaveLength(41);
    expect(p.blobCount).toBe(42);
    const counts: Record<string, number> = {};
    for (const l of p.layers) counts[l.type] = (counts[l.type] ?? 0) + 1;
    expect(counts).toEqual({ Input: 1, Split: 1, Convolution: 18, PReLU: 17, PixelShuffle: 1, Interp: 2, BinaryOp: 1 });
    const conv0 = p.layers.find((l) => l.name === 'Conv_0')!;
    expect(conv0).toMatchObject({ inputs: ['input.1_splitncnn_1'], outputs: ['54'] });
    expect(Object.fromEntries(conv0.params)).toEqual({ 0: '64', 1: '3', 4: '1', 5: '1', 6: '1728' });
    const last = p.layers.at(-1)!;
    expect(last).toMatchObject({ type: 'Interp', outputs: ['output'] });
    expect(last.params.get(0)).toBe('3'); // bicubic
    expect(Number(last.params.get(1))).toBe(0.5);
  });

  it('reads array parameters and refuses malformed files with the reason', () => {
    const p = parseNcnnParam('7767517\n1 1\nInput in 0 1 data 0=8 -23303=3,1,2,3\n');
    expect(p.layers[0].arrays.get(3)).toEqual(['1', '2', '3']);
    expect(p.layers[0].params.get(0)).toBe('8');
    expect(() => parseNcnnParam('123\n')).toThrow(/not an ncnn text .param file/);
    expect(() => parseNcnnParam('7767517\n2 1\nInput in 0 1 data\n')).toThrow(/announces 2 layers/);
    expect(() => parseNcnnParam('7767517\n1 1\nInput in 0 2 data\n')).toThrow(/fewer blob names/);
    expect(() => parseNcnnParam('7767517\n1 1\nInput in 0 1 data 0:8\n')).toThrow(/bad parameter/);
    expect(() => parseNcnnParam('7767517\n1 1\nInput in 0 1 data -23303=3,1\n')).toThrow(/announces 3 values/);
  });
});

describe('ncnn .bin reading', () => {
  it('decodes IEEE half floats', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3555)).toBeCloseTo(0.33325, 5);
    expect(halfToFloat(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('reads fp16 and float32 blobs by their tag, and refuses quantised ones', () => {
    const buf = Buffer.alloc(4 + 8 /* 3 halves, padded to 4 bytes */ + 4 + 8 + 4);
    buf.writeUInt32LE(TAG_FP16, 0);
    buf.writeUInt16LE(0x3c00, 4);
    buf.writeUInt16LE(0xc000, 6);
    buf.writeUInt16LE(0x3800, 8);
    buf.writeUInt32LE(0, 12); // float32 tag
    buf.writeFloatLE(0.25, 16);
    buf.writeFloatLE(-3, 20);
    buf.writeFloatLE(7, 24); // a raw (untagged) float
    const r = new NcnnBinReader(buf);
    expect([...r.typed(3, 'a')]).toEqual([1, -2, 0.5]);
    expect(r.offset).toBe(12);
    expect([...r.typed(2, 'b')]).toEqual([0.25, -3]);
    expect([...r.raw(1, 'c')]).toEqual([7]);
    expect(r.remaining).toBe(0);
    expect(() => r.raw(1, 'd')).toThrow(/ends early/);

    const q = Buffer.alloc(8);
    q.writeUInt32LE(TAG_INT8, 0);
    expect(() => new NcnnBinReader(q).typed(4, 'conv weights')).toThrow(/int8-quantised weights .* not supported/);
    q.writeUInt32LE(0x00000101, 0);
    expect(() => new NcnnBinReader(q).typed(4, 'conv weights')).toThrow(/codebook-quantised/);
  });
});

/** A little ncnn model with every translated layer type, and its weights as float32. */
function tinyModel(): { param: string; bin: Buffer; conv: Float32Array; bias: Float32Array; slope: Float32Array } {
  // conv: 3 → 12 channels, 1x1, so that PixelShuffle(2) gives 3 channels at 2x.
  const conv = Float32Array.from({ length: 12 * 3 }, (_, i) => ((i * 7) % 11) / 10 - 0.5);
  const bias = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 20);
  const slope = Float32Array.from({ length: 12 }, (_, i) => 0.1 + i / 100);
  const param = [
    '7767517',
    '7 8',
    'Input            in        0 1 data',
    'Split            split     1 2 data d0 d1',
    `Convolution      conv      1 1 d0 c 0=12 1=1 5=1 6=${conv.length}`,
    'PReLU            prelu     1 1 c p 0=12',
    'PixelShuffle     ps        1 1 p s 0=2',
    'Interp           up        1 1 d1 u 0=1 1=2.0 2=2.0',
    'BinaryOp         add       2 1 s u output 0=0',
  ].join('\n');
  const head = Buffer.alloc(4); // tag 0: float32
  const f32 = (a: Float32Array) => Buffer.from(a.buffer.slice(0));
  return { param, bin: Buffer.concat([head, f32(conv), f32(bias), f32(slope)]), conv, bias, slope };
}

describe('ncnn → ONNX', () => {
  it('translates a small model that onnxruntime runs to the same numbers as a plain reference', async () => {
    const m = tinyModel();
    const r = ncnnToOnnx(m.param, m.bin);
    expect(r.layers).toMatchObject({ Convolution: 1, PReLU: 1, PixelShuffle: 1, Interp: 1, BinaryOp: 1, Split: 1 });
    const session = await ort.InferenceSession.create(r.onnx, { executionProviders: ['cpu'] });
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['output']);
    const H = 3;
    const W = 5;
    const x = Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i));
    const out = (await session.run({ input: new ort.Tensor('float32', x, [1, 3, H, W]) })).output as ort.Tensor;
    expect(out.dims).toEqual([1, 3, 2 * H, 2 * W]);
    const y = out.data as Float32Array;
    // Reference: conv1x1 + bias, PReLU, pixel shuffle (CRD), + nearest 2x of the input.
    for (let c = 0; c < 3; c++) {
      for (let oy = 0; oy < 2 * H; oy++) {
        for (let ox = 0; ox < 2 * W; ox++) {
          const iy = oy >> 1;
          const ix = ox >> 1;
          const k = c * 4 + (oy & 1) * 2 + (ox & 1); // CRD: channel c*r*r + dy*r + dx
          let v = m.bias[k];
          for (let ci = 0; ci < 3; ci++) v += m.conv[k * 3 + ci] * x[ci * H * W + iy * W + ix];
          if (v < 0) v *= m.slope[k];
          v += x[c * H * W + iy * W + ix];
          expect(y[c * 4 * H * W + oy * 2 * W + ox]).toBeCloseTo(v, 5);
        }
      }
    }
    await session.release();
  });

  it('refuses layers it does not translate, and weights that do not match the graph', () => {
    const m = tinyModel();
    expect(() => ncnnToOnnx(m.param.replace('PReLU  ', 'Sigmoid'), m.bin)).toThrow(/not supported by the converter: Sigmoid/);
    expect(() => ncnnToOnnx(m.param, m.bin.subarray(0, m.bin.length - 8))).toThrow(/ends early/);
    expect(() => ncnnToOnnx(m.param, Buffer.concat([m.bin, Buffer.alloc(4)]))).toThrow(/4 bytes of the .bin were not used/);
    expect(() => ncnnToOnnx(m.param.replace('0=1 1=2.0', '0=1 3=64 1=2.0'), m.bin)).toThrow(/fixed or dynamic output size/);
  });

  it('converts all three real models, every weight used', () => {
    for (const s of [2, 3, 4]) {
      const base = path.join(modelsDir, `realesr-animevideov3-x${s}`);
      const r = ncnnToOnnx(readFileSync(`${base}.param`, 'utf8'), readFileSync(`${base}.bin`));
      // 18 convolutions (3→64, 16 × 64→64, 64→48 with biases) and 17 PReLUs of 64 slopes.
      expect(r.parameters).toBe(1728 + 64 + 16 * (36864 + 64) + 27648 + 48 + 17 * 64 + (s === 4 ? 4 : 8));
    }
  });
});

describe('upscale tiles', () => {
  it('mirrors at the edges like realesrgan-ncnn-vulkan', () => {
    expect([-2, -1, 0, 4, 5, 6].map((i) => mirror(i, 5))).toEqual([2, 1, 0, 4, 3, 2]);
    expect(mirror(-3, 2)).toBeGreaterThanOrEqual(0); // narrower than the margin: clamped, never out of range
  });

  it('covers the frame with tiles, or one tile for size 0', () => {
    expect(planTiles(100, 50, 0)).toEqual([{ x: 0, y: 0, w: 100, h: 50 }]);
    expect(planTiles(100, 50, 40)).toEqual([
      { x: 0, y: 0, w: 40, h: 40 }, { x: 40, y: 0, w: 40, h: 40 }, { x: 80, y: 0, w: 20, h: 40 },
      { x: 0, y: 40, w: 40, h: 10 }, { x: 40, y: 40, w: 40, h: 10 }, { x: 80, y: 40, w: 20, h: 10 },
    ]);
  });

  it('puts every pixel back where it came from (identity network, tiles with margins)', () => {
    const W = 7;
    const H = 5;
    const src = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37) % 256);
    const out = new Uint8Array(src.length);
    const pad = 3;
    for (const t of planTiles(W, H, 4)) {
      const buf = new Float32Array(3 * (t.w + 2 * pad) * (t.h + 2 * pad));
      tileToPlanar(src, 0, W, H, t, pad, buf);
      planarToTile(buf, t, pad, 1, W, out, 0);
    }
    expect(Buffer.from(out).equals(Buffer.from(src))).toBe(true);
  });

  it('rounds half up and clamps, as the binary does', () => {
    const t = { x: 0, y: 0, w: 1, h: 1 };
    const out = new Uint8Array(3);
    planarToTile(Float32Array.from([-0.2, 1.7, 100.49 / 255]), t, 0, 1, 1, out, 0);
    expect([...out]).toEqual([0, 255, 100]);
    planarToTile(Float32Array.from([NaN, 100.5 / 255, 0.5 / 255]), t, 0, 1, 1, out, 0);
    expect([...out]).toEqual([0, 101, 1]);
  });
});

it('NcnnFormatError is an Error with its own name', () => {
  expect(new NcnnFormatError('x')).toBeInstanceOf(Error);
  expect(new NcnnFormatError('x').name).toBe('NcnnFormatError');
});
