import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, ffmpeg, tempDir } from './helpers/media.js';
import { toolsRealesrganDir } from '../src/machine/tools.js';
import { GENERAL_FAMILY } from '../src/machine/upscale-models.js';

/** `--model general|anime`: both engines run the model asked for, and the stats say which. */
const tmp = tempDir('dancelift-model-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');
let clip: string;

beforeAll(async () => {
  // Two real frames, tiny: the Vulkan upscaler runs on Mesa's CPU driver here.
  clip = work('clip.mp4');
  await ffmpeg(['-ss', '5', '-i', path.join(repoRoot, '..', 'shared', 'media', 'musepose_dance_1080x1920_24fps_audio.mp4'), '-t', `${2 / 24}`, '-vf', 'scale=36:64:flags=area', '-c:v', 'libx264', '-crf', '16', '-c:a', 'aac', clip]);
});
afterAll(() => tmp.remove());

async function enhance(args: string[], env: Record<string, string> = {}) {
  const r = await execa('node', [cli, 'enhance', clip, '--matting', 'none', '--json', '--out', work('out'), ...args], {
    reject: false,
    env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_ORT_PROVIDERS: 'cpu', ...env },
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim()) as { ok: boolean; width: number; stats: { stages: Array<{ name: string; engine: string; fallbackFrom?: string }> } };
}

describe('the upscaler model', () => {
  it('is provisioned: realesrgan-x4fast x2/x3/x4, ncnn and ONNX', () => {
    const dir = toolsRealesrganDir();
    for (const s of [2, 3, 4]) {
      for (const f of [`models/${GENERAL_FAMILY}-x${s}.param`, `models/${GENERAL_FAMILY}-x${s}.bin`, `onnx/${GENERAL_FAMILY}-x${s}.onnx`]) {
        expect(existsSync(path.join(dir, f)), `${f} missing: run \`npm run setup\``).toBe(true);
      }
    }
  });

  it('`dancelift enhance clip.mp4 --model general` runs the general model in onnxruntime, and the stats name it', async () => {
    const r = await enhance(['--upscaler', 'onnx', '--model', 'general']);
    expect(r.width).toBe(72);
    const up = r.stats.stages.find((s) => s.name === 'upscale')!;
    expect(up.engine).toBe('general: realesrgan-x4fast-x2 (onnxruntime-node)');
  });

  it('--model anime runs realesr-animevideov3 instead', async () => {
    const r = await enhance(['--upscaler', 'onnx', '--model', 'anime']);
    expect(r.stats.stages.find((s) => s.name === 'upscale')!.engine).toBe('anime: realesr-animevideov3-x2 (onnxruntime-node)');
  });

  it('the ncnn binary runs the general model too (on the CPU Vulkan driver here), named in the stats', async () => {
    const r = await enhance(['--upscaler', 'realesrgan', '--model', 'general'], { DANCELIFT_REALESRGAN_ON_CPU: 'use' });
    const up = r.stats.stages.find((s) => s.name === 'upscale')!;
    expect(up.fallbackFrom).toBeUndefined();
    expect(up.engine).toBe('realesrgan-ncnn-vulkan general: realesrgan-x4fast-x2');
    expect(r.width).toBe(72);
  });

  it('refuses a model it does not know, saying which it knows', async () => {
    const r = await execa('node', [cli, 'enhance', clip, '--model', 'photo'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--model must be one of general, anime');
  });
});
