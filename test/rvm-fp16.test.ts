/** The fp16 RVM model: the conversion, its check against fp32 on real frames, provisioning, and which file each provider opens. */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertToFp16, readGraphNodes } from '../src/machine/provision/onnx-to-fp16.js';
import {
  compareRvmOnCpu,
  provisionRvmFp16,
  rvmCheckFrames,
  rvmFp16Passes,
  RVM_FLOAT32_AROUND,
  type RvmFrames,
} from '../src/pipeline/engines/rvm-fp16.js';
import { findRvmFp16, toolsRvmFp16Path } from '../src/machine/tools.js';
import { createRvmMatte, rvmKeepsStatesOnDevice, rvmSessionOptions } from '../src/pipeline/engines/matte-rvm.js';
import { modelForProvider } from '../src/machine/fp16-models.js';
import { clips, rvmModel, tempDir } from './helpers/media.js';
import { testConfig } from './helpers/fixtures.js';

describe('which RVM file and session options a provider gets', () => {
  it('GPU providers take the fp16 copy when there is one; the CPU keeps fp32', () => {
    for (const p of ['cuda', 'tensorrt', 'webgpu']) expect(modelForProvider(p, 'a.onnx', 'a.fp16.onnx')).toEqual({ file: 'a.fp16.onnx', precision: 'fp16' });
    expect(modelForProvider('cpu', 'a.onnx', 'a.fp16.onnx')).toEqual({ file: 'a.onnx', precision: 'fp32' });
    expect(modelForProvider('cuda', 'a.onnx')).toEqual({ file: 'a.onnx', precision: 'fp32' });
  });

  it('tries keeping the states on the device only on WebGPU (the binding\'s gpu-buffer is WebGPU memory)', () => {
    expect(rvmKeepsStatesOnDevice('webgpu')).toBe(true);
    for (const p of ['cuda', 'tensorrt', 'cpu']) expect(rvmKeepsStatesOnDevice(p)).toBe(false);
  });

  it('keeps r1o..r4o on the GPU only when asked, and reads fgr and pha on the CPU', () => {
    const gpu = rvmSessionOptions('webgpu', undefined, true);
    expect(gpu.executionProviders).toEqual(['webgpu']);
    expect(gpu.preferredOutputLocation).toEqual({ fgr: 'cpu', pha: 'cpu', r1o: 'gpu-buffer', r2o: 'gpu-buffer', r3o: 'gpu-buffer', r4o: 'gpu-buffer' });
    expect(rvmSessionOptions('cuda', undefined, false).preferredOutputLocation).toBeUndefined();
    const cpu = rvmSessionOptions('cpu', 2, false);
    expect(cpu.preferredOutputLocation).toBeUndefined();
    expect(cpu.intraOpNumThreads).toBe(2);
  });
});

describe('the fp16 RVM model', () => {
  const tmp = tempDir('dancelift-rvm-fp16-');
  const fp16 = path.join(tmp.dir, 'rvm.fp16.onnx');
  let frames: RvmFrames;
  beforeAll(async () => {
    const r = convertToFp16(new Uint8Array(readFileSync(rvmModel)), { float32Around: RVM_FLOAT32_AROUND });
    expect(r.halfNodes).toBeGreaterThan(400);
    expect(r.halfInitializers).toBeGreaterThan(0);
    writeFileSync(fp16, r.onnx);
    frames = await rvmCheckFrames(clips.girl, 256, 3);
    expect(frames.source).toBe(path.basename(clips.girl));
  }, 60_000);
  afterAll(() => tmp.remove());

  it('keeps the float32 interface', async () => {
    const s = await ort.InferenceSession.create(fp16, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    try {
      expect(s.inputNames).toEqual(['src', 'r1i', 'r2i', 'r3i', 'r4i', 'downsample_ratio']);
      const zero = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
      const [h, w] = [64, 96];
      const out = await s.run({
        src: new ort.Tensor('float32', new Float32Array(3 * h * w).fill(0.5), [1, 3, h, w]),
        r1i: zero, r2i: zero, r3i: zero, r4i: zero,
        downsample_ratio: new ort.Tensor('float32', Float32Array.of(0.5), [1]),
      });
      for (const name of ['fgr', 'pha', 'r1o', 'r4o']) expect(out[name].type).toBe('float32');
      expect(out.pha.dims).toEqual([1, 1, h, w]);
    } finally {
      await s.release();
    }
  }, 60_000);

  it('computes floor(W · ratio) in float32 (float16 holds 4097 as 4096) and the network in float16', () => {
    // onnxruntime's CPU provider folds the Cast pairs of such a chain away, so only the graph shows it.
    const nodes = readGraphNodes(readFileSync(fp16));
    const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const toInt = nodes.filter((n) => n.op === 'Cast' && n.castTo === 7);
    expect(toInt.length).toBeGreaterThan(0);
    for (const c of toInt) {
      const mul = producer.get(c.inputs[0])!;
      expect(mul.op).toBe('Mul');
      expect(mul.inputs).toContain('downsample_ratio');
      const fromShape = mul.inputs.map((i) => producer.get(i)).find((n) => n?.op === 'Cast');
      expect(fromShape?.castTo).toBe(1);
    }
    expect(nodes.filter((n) => n.op === 'Conv' && n.inputs.some((i) => i.endsWith('__fp16'))).length).toBeGreaterThan(50);
  });

  it('gives the fp32 alpha within the limits on real frames (states recycled), but not the same numbers', async () => {
    const c = await compareRvmOnCpu(rvmModel, fp16, frames);
    expect(rvmFp16Passes(c)).toBe(true);
    expect(c.alphaMad).toBeGreaterThan(0);
    expect(c.alphaMad).toBeLessThan(1 / 255);
    expect(c.alphaPsnrDb).toBeGreaterThan(40);
  }, 120_000);

  it('the engine keeps fp32 on the CPU even with the fp16 copy given', async () => {
    const engine = await createRvmMatte({ modelPath: rvmModel, fp16ModelPath: fp16, providers: ['cuda', 'cpu'], downsampleRatio: 0.5 });
    try {
      expect(engine.info().device).toBe(`onnxruntime cpu (${path.basename(rvmModel)})`);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('fails the check with the guided filter in float16 (the limits have teeth)', async () => {
    const whole = path.join(tmp.dir, 'whole.fp16.onnx');
    writeFileSync(whole, convertToFp16(new Uint8Array(readFileSync(rvmModel))).onnx);
    const c = await compareRvmOnCpu(rvmModel, whole, frames);
    expect(rvmFp16Passes(c)).toBe(false);
  }, 120_000);
});

describe('provisioning the fp16 RVM model', () => {
  const tmp = tempDir('dancelift-rvm-fp16-prov-');
  afterAll(() => tmp.remove());

  it('writes tools/models/<name>.fp16.onnx once, checked, and the engine finds only a copy newer than its model', async () => {
    const config = testConfig(tmp.dir);
    const lines: string[] = [];
    const first = await provisionRvmFp16(config, { root: tmp.dir, clip: clips.girl, log: (m) => lines.push(m) });
    expect(first).toMatch(/fp16 RVM rvm_mobilenetv3_from_tfjs\.fp16\.onnx: \d+ nodes in fp16; against fp32 on girl_dancing/);
    expect(lines).toEqual([first]);
    const out = toolsRvmFp16Path(rvmModel, tmp.dir);
    expect(findRvmFp16(rvmModel, tmp.dir)).toBe(out);
    expect(await provisionRvmFp16(config, { root: tmp.dir, clip: clips.girl })).toMatch(/up to date/);
    // A copy older than the model it belongs to is of a replaced model: not used.
    utimesSync(out, new Date(2000, 0, 1), new Date(2000, 0, 1));
    expect(findRvmFp16(rvmModel, tmp.dir)).toBeNull();
  }, 120_000);
});
