import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { rvmModel, tempDir } from './helpers/media.js';
import { formatDoctor, shortError, tinyOnnxModel, type Check, type DoctorResult } from '../src/machine/doctor.js';
import { doctor } from '../src/cli/engines.js';

function config(patch: (c: Config) => void = () => undefined): Config {
  const c = structuredClone(loadConfig({ env: {} }));
  patch(c);
  return c;
}

const byName = (r: DoctorResult, name: string): Check => {
  const c = r.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check named ${name}: ${r.checks.map((x) => x.name).join(', ')}`);
  return c;
};

describe('doctor on this machine', () => {
  it('finds ffmpeg and ffprobe, a working cpu provider, and prints every check', async () => {
    const result = await doctor(config());
    const text = formatDoctor(result);
    console.log(text);

    expect(byName(result, 'ffmpeg')).toMatchObject({ ok: true, required: true });
    expect(byName(result, 'ffmpeg').detail).toMatch(/^ffmpeg version \S+/);
    expect(byName(result, 'ffprobe').ok).toBe(true);
    expect(byName(result, 'onnxruntime cpu').ok).toBe(true);
    // CUDA and WebGPU may fail here (no GPU); that is reported but never required.
    for (const p of ['cuda', 'webgpu']) {
      const c = byName(result, `onnxruntime ${p}`);
      expect(c.required).toBe(false);
      if (!c.ok) expect(c.fix).toBeTruthy();
    }
    expect(byName(result, 'matting provider')).toMatchObject({ ok: true, required: true });
    expect(byName(result, 'RVM model').ok).toBe(true);
    expect(byName(result, 'redis-server').required).toBe(false);
    for (const name of ['realesrgan-ncnn-vulkan', 'Vulkan device']) byName(result, name);

    for (const c of result.checks) expect(text).toContain(c.name);
    const lines = text.split('\n');
    for (const c of result.checks) {
      expect(lines.some((l) => l.startsWith(`${c.ok ? '✔' : '✘'} ${c.name}`))).toBe(true);
    }
    expect(result.ok).toBe(result.checks.every((c) => c.ok || !c.required));
  });

  it('fails with a fix line when the configured realesrgan binary does not exist', async () => {
    const bogus = '/nonexistent/realesrgan-ncnn-vulkan';
    const result = await doctor(config((c) => (c.upscale.realesrgan.binary = bogus)));
    expect(result.ok).toBe(false);
    const check = byName(result, 'realesrgan-ncnn-vulkan');
    expect(check).toMatchObject({ ok: false, required: true });
    expect(check.detail).toContain(bogus);
    const text = formatDoctor(result);
    expect(text).toMatch(/^✘ realesrgan-ncnn-vulkan +not found/m);
    expect(text).toMatch(/^ +fix: correct upscale\.realesrgan\.binary \/ DANCELIFT_REALESRGAN=/m);
    expect(text).toMatch(/required check.* failed: .*realesrgan-ncnn-vulkan/);
  });

  it('does not require the upscaler or RVM when other engines are chosen, and reports a bad FFMPEG_PATH', async () => {
    const result = await doctor(
      config((c) => {
        c.upscale.engine = 'ffmpeg';
        c.upscale.realesrgan.binary = '/nonexistent/realesrgan-ncnn-vulkan';
        c.matte.engine = 'none';
        c.matte.rvm.model = '/nonexistent/rvm.onnx';
      }),
      { env: { ...process.env, FFMPEG_PATH: '/nonexistent/ffmpeg' } },
    );
    expect(byName(result, 'realesrgan-ncnn-vulkan')).toMatchObject({ ok: false, required: false });
    expect(byName(result, 'RVM model')).toMatchObject({ ok: false, required: false });
    expect(byName(result, 'RVM model').fix).toContain('DANCELIFT_RVM_MODEL=');
    const ff = byName(result, 'ffmpeg');
    expect(ff).toMatchObject({ ok: false, required: true });
    expect(ff.fix).toContain('FFMPEG_PATH');
    expect(result.ok).toBe(false);
    expect(formatDoctor(result)).toContain('(optional)');
  });
});

describe('doctor helpers', () => {
  it('the in-memory probe model runs in onnxruntime', async () => {
    const session = await ort.InferenceSession.create(tinyOnnxModel(), { executionProviders: ['cpu'] });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2, 3, -4]), [1, 4]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([2, 0, 6, 0]);
    await session.release();
  });

  it('formatDoctor aligns the table and lists the fixes', () => {
    const text = formatDoctor({
      ok: false,
      checks: [
        { name: 'ffmpeg', ok: true, required: true, detail: 'ffmpeg version 5.1' },
        { name: 'realesrgan-ncnn-vulkan', ok: false, required: true, detail: 'not found', fix: 'npm run setup' },
        { name: 'redis-server', ok: false, required: false, detail: 'not installed', fix: 'apt-get install -y redis-server' },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('✔ ffmpeg                  ffmpeg version 5.1');
    expect(lines[1]).toBe('✘ realesrgan-ncnn-vulkan  not found');
    expect(lines[2]).toBe(`  ${' '.repeat('realesrgan-ncnn-vulkan'.length)}  fix: npm run setup`);
    expect(lines[3]).toBe('✘ redis-server            not installed (optional)');
    expect(lines[4]).toContain('fix: apt-get install -y redis-server');
    expect(lines.at(-1)).toBe('1 required check failed: realesrgan-ncnn-vulkan');
  });

  it('shortError keeps the reason of onnxruntime messages', () => {
    expect(
      shortError(
        '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(...) adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
      ),
    ).toBe('Failed to get a WebGPU adapter: No supported adapters');
    expect(shortError('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library')).toBe('Failed to load shared library');
  });
});

describe('doctor: RVM variants', () => {
  it('lists which variants are present, and how to get the missing one', async () => {
    const tmp = tempDir('dancelift-doctor-rvm-');
    try {
      const cfg = config((c) => {
        c.dataDir = tmp.dir;
        c.matte.rvm.model = '';
      });
      const before = await doctor(cfg);
      // This checkout finds MobileNetV3 in ../shared/models; ResNet-50 is nowhere.
      expect(byName(before, 'RVM mobilenetv3 (default)')).toMatchObject({ ok: true, required: false });
      const missing = byName(before, 'RVM resnet50');
      expect(missing).toMatchObject({ ok: false, required: false, fix: 'dancelift provision --matting-model resnet50' });
      expect(missing.detail).toContain(`rvm_resnet50_fp32.onnx not here (sha256 ${cfg.provision.rvm.sha256['rvm_resnet50_fp32.onnx']})`);

      mkdirSync(path.join(tmp.dir, 'models'));
      const copy = path.join(tmp.dir, 'models', 'rvm_resnet50_fp32.onnx');
      copyFileSync(rvmModel, copy);
      const after = await doctor(cfg);
      expect(byName(after, 'RVM resnet50')).toMatchObject({ ok: true, detail: `present: ${copy} (data dir)` });
      expect(formatDoctor(after)).toMatch(/^✔ RVM resnet50 +present: /m);
    } finally {
      tmp.remove();
    }
  }, 120_000);
});

