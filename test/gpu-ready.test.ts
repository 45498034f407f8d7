/**
 * The GPU-host pieces that can be checked without a GPU: nvidia-smi parsing, concurrency from free
 * VRAM, the TensorRT cache and provider precheck, the GPU check's PNG writer and its sizes.
 */
import { execFileSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { concurrencyFromVram, jobVramMiB } from '../src/config/concurrency.js';
import { loadConfig } from '../src/config/load.js';
import { parseNvidiaSmi } from '../src/machine/nvidia.js';
import { providerPrecheck, tensorrtCacheEnv } from '../src/pipeline/engines/ort/providers.js';
import { encodePng, syntheticFrame } from '../src/media/png.js';
import { checkSizes } from '../src/bench/gpu-check-sizes.js';
import { gpuChecks, gpuFacts, type GpuFacts } from '../src/machine/doctor-gpu.js';

describe('nvidia-smi', () => {
  it('reads GPUs from its CSV and ignores anything else', () => {
    const csv = '0, NVIDIA GeForce RTX 3060, 550.54.14, 12288, 11802\n1, NVIDIA H200, 580.159.03, 143771, 143000\nNo devices were found\n';
    expect(parseNvidiaSmi(csv)).toEqual([
      { index: 0, name: 'NVIDIA GeForce RTX 3060', driver: '550.54.14', memoryTotalMiB: 12288, memoryFreeMiB: 11802 },
      { index: 1, name: 'NVIDIA H200', driver: '580.159.03', memoryTotalMiB: 143771, memoryFreeMiB: 143000 },
    ]);
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.')).toEqual([]);
  });
});

describe('queue.concurrency auto', () => {
  it('gives two jobs on a free 12 GB card with the default engines, one on an 8 GB card, one without a GPU', () => {
    const perJob = jobVramMiB('realesrgan', 'rvm');
    expect(concurrencyFromVram(11802, perJob)).toBe(2);
    expect(concurrencyFromVram(7800, perJob)).toBe(1);
    expect(concurrencyFromVram(null, perJob)).toBe(1);
    expect(concurrencyFromVram(143000, perJob)).toBe(4); // capped
    expect(concurrencyFromVram(24000, 0)).toBe(1); // CPU engines only
  });

  it('resolves when the config is loaded: 1 here (no NVIDIA GPU), a number given explicitly wins', () => {
    let gpu = true;
    try {
      execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
    } catch {
      gpu = false;
    }
    const auto = loadConfig({ env: { DANCELIFT_CONCURRENCY: 'auto' } }).queue.concurrency;
    if (!gpu) expect(auto).toBe(1);
    else expect(auto).toBeGreaterThanOrEqual(1);
    expect(loadConfig({ env: { DANCELIFT_CONCURRENCY: '3' } }).queue.concurrency).toBe(3);
  });
});

describe('TensorRT', () => {
  it('is tried before CUDA by default and keeps its engines in the data dir', () => {
    const config = loadConfig({ env: {} });
    expect(config.matte.rvm.providers.indexOf('tensorrt')).toBeLessThan(config.matte.rvm.providers.indexOf('cuda'));
    expect(tensorrtCacheEnv('/var/lib/dancelift', {})).toEqual({
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
      ORT_TENSORRT_CACHE_PATH: '/var/lib/dancelift/tensorrt-cache',
      ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
    });
    // the administrator's own setting wins
    expect(tensorrtCacheEnv('/d', { ORT_TENSORRT_CACHE_PATH: '/fast/trt' })).not.toHaveProperty('ORT_TENSORRT_CACHE_PATH');
  });

  it('is skipped at once, with the reason, when its provider library is not installed', async () => {
    expect(await providerPrecheck('tensorrt')).toMatch(/TensorRT provider not installed/);
    expect(await providerPrecheck('cpu')).toBeNull();
  });
});

describe('gpu-check helpers', () => {
  it('writes a PNG that holds exactly the pixels given', () => {
    const w = 7;
    const h = 5;
    const rgb = syntheticFrame(w, h, 3);
    const png = encodePng(rgb, w, h);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const idatAt = png.indexOf('IDAT');
    const len = png.readUInt32BE(idatAt - 4);
    const rows = inflateSync(png.subarray(idatAt + 4, idatAt + 4 + len));
    for (let y = 0; y < h; y++) {
      expect(rows[y * (w * 3 + 1)]).toBe(0);
      expect(Buffer.compare(rows.subarray(y * (w * 3 + 1) + 1, (y + 1) * (w * 3 + 1)), rgb.subarray(y * w * 3, (y + 1) * w * 3))).toBe(0);
    }
    expect(() => encodePng(rgb, w + 1, h)).toThrow(RangeError);
  });

  it("uses the issue's sizes on a GPU and tiny ones on a CPU", () => {
    expect(checkSizes(true)).toMatchObject({ esr: { w: 960, h: 540 }, rvm: { w: 1920, h: 1080 }, encode: { w: 1920, h: 1080 }, enhance: { w: 960, h: 540, seconds: 10 } });
    const cpu = checkSizes(false);
    expect(cpu.esr.w * cpu.esr.h * cpu.esr.frames).toBeLessThan(10_000);
  });
});

describe('doctor on a GPU host (pure over the facts)', () => {
  const none: GpuFacts = { gpus: null, vulkan: [{ index: 0, name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'PHYSICAL_DEVICE_TYPE_CPU' }], nvencEncoders: [], nvencProbe: null, libs: [], ortProviderLibs: [] };
  const all: GpuFacts = {
    gpus: [{ index: 0, name: 'NVIDIA GeForce RTX 3060', driver: '550.54.14', memoryTotalMiB: 12288, memoryFreeMiB: 11802 }],
    vulkan: [{ index: 0, name: 'NVIDIA GeForce RTX 3060', type: 'PHYSICAL_DEVICE_TYPE_DISCRETE_GPU' }],
    nvencEncoders: ['h264_nvenc', 'hevc_nvenc'],
    nvencProbe: { ok: true, detail: 'ok' },
    libs: ['libcudart.so.12', 'libcudnn.so.9', 'libnvinfer.so.10'],
    ortProviderLibs: ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
  };
  const names = ['NVIDIA driver', 'NVIDIA Vulkan ICD', 'NVENC', 'CUDA/cuDNN', 'TensorRT'];

  it('explains each missing piece with its fix, as optional checks', () => {
    const checks = gpuChecks(none, '/data');
    expect(checks.map((c) => c.name)).toEqual(names);
    for (const c of checks) {
      expect(c).toMatchObject({ ok: false, required: false });
      expect(c.fix).toMatch(/\S{4,}/);
    }
    expect(checks[1].detail).toMatch(/only llvmpipe/);
    expect(checks[2].detail).toMatch(/no h264_nvenc/);
    expect(checks[3].detail).toMatch(/without its CUDA provider.*libcudart\.so\.12.*libcudnn\.so\.9/);
    expect(checks[4].detail).toMatch(/no TensorRT provider library.*libnvinfer\.so\.10/);
  });

  it('says all is well on a complete host, and names the failing NVENC probe', () => {
    const checks = gpuChecks(all, '/data');
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks[4].detail).toMatch(/\/data\/tensorrt-cache/);
    const probe = gpuChecks({ ...all, nvencProbe: { ok: false, detail: 'Cannot load libnvidia-encode.so.1' } }, '/data')[2];
    expect(probe).toMatchObject({ ok: false, detail: expect.stringMatching(/libnvidia-encode\.so\.1/), fix: expect.stringMatching(/libnvidia-encode1/) });
  });

  it('gathers the real facts of this machine', async () => {
    const f = await gpuFacts();
    expect(Array.isArray(f.libs) && f.libs.length > 0).toBe(true);
    expect(gpuChecks(f, '/d').map((c) => c.name)).toEqual(names);
  });
});
