import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enhance } from '../src/pipeline/index.js';
import { convertIfNeeded } from '../src/machine/provision/realesrgan-onnx.js';
import { toolsRealesrganOnnxDir } from '../src/machine/onnx-upscale-models.js';
import { clips, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';

const tmp = tempDir('dancelift-onnx-e2e-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const MODEL = 'realesr-animevideov3-x2';
let clip: string;

beforeAll(async () => {
  // 2 frames of the dancer at 64x64: enough to go through every stage.
  clip = await makeClip(tmp.dir, 'girl2.mp4', clips.girl, { seconds: 0.5, width: 64, height: 64, audio: false });
  const models = path.join(repoRoot, 'tools', 'realesrgan', 'models');
  await convertIfNeeded(path.join(models, `${MODEL}.param`), path.join(models, `${MODEL}.bin`), work('onnx', `${MODEL}.onnx`));
});
afterAll(() => tmp.remove());

const videoOf = async (file: string) => (await ffprobeJson(file)).streams.find((s) => s.codec_type === 'video');

describe('enhance --upscaler onnx', () => {
  it('upscales in memory, chunk by chunk, to twice the size', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '64', DANCELIFT_CHUNK_FRAMES: '1' });
    config.upscale.onnx.modelsDir = work('onnx');
    config.upscale.model = 'anime';
    const out = work('api', 'girl2.enhanced.mp4');
    const r = await enhance({ input: clip, output: out, background: '#00ff00', upscaler: 'onnx', matting: 'rvm', scale: 2, config });
    expect(await videoOf(out)).toMatchObject({ codec_name: 'h264', width: 128, height: 128 });
    const up = r.stats.stages[1];
    expect(up).toMatchObject({ name: 'upscale', engine: `anime: ${MODEL} (onnxruntime-node)`, device: 'onnxruntime cpu', frames: 2 });
    expect(up.fallbackFrom).toBeUndefined();
    // No PNG round trip: nothing was written to the run's temp dir.
    expect(r.stats.peakTempBytes).toBe(0);
    console.log(`enhance --upscaler onnx: upscale ${up.seconds.toFixed(2)} s for 2 frames 64x64 (${up.fps.toFixed(1)} fps), total ${r.stats.totalS.toFixed(2)} s`);
  });

  it('works from the command line with the models setup converted into tools/', async () => {
    const cli = path.join(repoRoot, 'bin', 'dancelift.js');
    const r = await execa('node', [cli, 'enhance', clip, '--upscaler', 'onnx', '--model', 'anime', '--matting', 'none', '--json', '--out', work('cli')], {
      cwd: tmp.dir,
      reject: false,
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_RVM_MODEL: rvmModel, DANCELIFT_ORT_PROVIDERS: 'cpu', LANG: 'en_US.UTF-8' },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim());
    expect(line.ok).toBe(true);
    const up = line.stats.stages.find((s: { name: string }) => s.name === 'upscale');
    // `npm run setup` converts into tools/realesrgan/onnx; without it the engine would say what it fell back to.
    expect(up, `${toolsRealesrganOnnxDir()} should hold the converted models`).toMatchObject({ engine: `anime: ${MODEL} (onnxruntime-node)` });
    expect(await videoOf(line.output)).toMatchObject({ width: 128, height: 128 });
  });
});
