import { describe, expect, it } from 'vitest';
import { createRvmMatte } from '../src/pipeline/engines/matte-rvm.js';
import { chooseDownsampleRatio, identifyRvmVariant, RVM_STATE_CHANNELS, RVM_VARIANTS, rvmFileName } from '../src/machine/rvm-variants.js';
import type { Chunk, StageContext } from '../src/pipeline/types.js';
import { clips, decodeRgb, rvmModel } from './helpers/media.js';

describe('RVM variants', () => {
  it('name the release files', () => {
    expect(rvmFileName('resnet50')).toBe('rvm_resnet50_fp32.onnx');
    expect(rvmFileName('mobilenetv3', 'fp16')).toBe('rvm_mobilenetv3_fp16.onnx');
  });

  it('are told apart by their recurrent state widths', () => {
    expect(identifyRvmVariant([16, 20, 40, 64])).toBe('mobilenetv3');
    expect(identifyRvmVariant([16, 32, 64, 128])).toBe('resnet50');
    expect(identifyRvmVariant([16, 20, 40])).toBeNull();
    expect(identifyRvmVariant([8, 16, 32, 64])).toBeNull();
  });

  it.each(RVM_VARIANTS)('%s: auto ratio keeps the internal frame within RVM’s 256–512 px guide', (variant) => {
    for (const [w, h] of [[1280, 720], [1920, 1080], [3840, 2160], [540, 960], [7680, 4320]]) {
      const long = Math.max(w, h) * chooseDownsampleRatio(w, h, variant);
      expect(long).toBeGreaterThanOrEqual(256);
      expect(long).toBeLessThanOrEqual(540);
    }
    expect(chooseDownsampleRatio(512, 288, variant)).toBe(1);
    expect(chooseDownsampleRatio(1280, 720, variant)).toBe(0.4);
  });
});

describe('one engine for both variants', () => {
  const W = 128;
  const H = 128;
  const ctx: StageContext = { signal: new AbortController().signal, tempDir: '/tmp', log: () => {} };

  it('runs the same model to the same alpha whichever variant was asked for, and names the one the model is', async () => {
    const pixels = await decodeRgb(clips.girl, W, H, 2);
    const chunk: Chunk = { index: 0, start: 0, count: 2, width: W, height: H, format: 'rgb24', pixels };
    const outs: Buffer[] = [];
    const infos = [];
    for (const variant of RVM_VARIANTS) {
      const engine = await createRvmMatte({ modelPath: rvmModel, variant, providers: ['cpu'], downsampleRatio: 'auto' });
      try {
        outs.push((await engine.process(chunk, ctx)).pixels);
        infos.push(engine.info());
      } finally {
        await engine.close();
      }
    }
    expect(outs[0].equals(outs[1])).toBe(true);
    expect(infos.map((i) => i.engine)).toEqual(['rvm mobilenetv3 (onnxruntime-node)', 'rvm mobilenetv3 (onnxruntime-node)']);
    expect(infos[0].fallbackFrom).toBeUndefined();
    expect(infos[1].fallbackFrom).toBe('asked for RVM resnet50, but rvm_mobilenetv3_from_tfjs.onnx is mobilenetv3');
    expect(RVM_STATE_CHANNELS.mobilenetv3).toEqual([16, 20, 40, 64]);
  }, 60_000);
});
