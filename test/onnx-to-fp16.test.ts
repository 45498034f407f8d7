/** convertToFp16 on tiny hand-built graphs: the float32 interface, what turns float16, what it refuses. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { convertToFp16, Fp16ConversionError, readGraphNodes } from '../src/machine/provision/onnx-to-fp16.js';
import { floatTensor, graph, model, node, valueInfo, ONNX_FLOAT } from '../src/machine/provision/onnx-proto.js';

/** y = x * w + b with w, b initializers: the smallest graph with weights and an output. */
function tinyModel(op = 'Mul'): Uint8Array {
  return model({
    graph: graph({
      name: 'tiny',
      nodes: [node({ op, name: 'scale', inputs: ['x', 'w'], outputs: ['t'] }), node({ op: 'Add', name: 'shift', inputs: ['t', 'b'], outputs: ['y'] })],
      initializers: [floatTensor('w', [1], Float32Array.of(0.1)), floatTensor('b', [1], Float32Array.of(1 / 3))],
      inputs: [valueInfo('x', ONNX_FLOAT, ['N'])],
      outputs: [valueInfo('y', ONNX_FLOAT, ['N'])],
    }),
    opset: 13,
    producerName: 'test',
    producerVersion: '1',
  });
}

describe('convertToFp16', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dancelift-fp16-graph-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes in float16 between a Cast at the input and one at the output, with float16 weights', async () => {
    const r = convertToFp16(tinyModel(), { metadata: { precision: 'fp16' } });
    expect(r).toMatchObject({ halfNodes: 2, halfInitializers: 2, castsInserted: 2 });
    const nodes = readGraphNodes(r.onnx);
    expect(nodes.map((n) => `${n.op}:${n.inputs.join(',')}>${n.outputs.join(',')}`)).toEqual([
      'Cast:x>x__fp16',
      'Mul:x__fp16,w>t',
      'Add:t,b>y__fp16',
      'Cast:y__fp16>y',
    ]);
    const file = path.join(dir, 'tiny.fp16.onnx');
    writeFileSync(file, r.onnx);
    const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    try {
      const out = (await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 1000), [3]) })).y as ort.Tensor;
      expect(out.type).toBe('float32');
      const y = out.data as Float32Array;
      // float16 weights: 0.1 is 0.0999755859375 and 1/3 is 0.333251953125
      expect(y[0]).toBeCloseTo(0.0999755859375 + 0.333251953125, 6);
      expect(Math.abs(y[2] - (100 + 1 / 3))).toBeLessThan(0.1);
      expect(y[2]).not.toBe(Math.fround(1000 * 0.1 + 1 / 3));
    } finally {
      await s.release();
    }
  });

  it('refuses ops it does not know, naming them', () => {
    expect(() => convertToFp16(tinyModel('FancyOp'))).toThrow(Fp16ConversionError);
    expect(() => convertToFp16(tinyModel('FancyOp'))).toThrow(/FancyOp/);
    expect(() => convertToFp16(new Uint8Array([8, 1]))).toThrow(/no graph/);
  });
});
