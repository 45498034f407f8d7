/**
 * `npm run gpu-check`: one command for a machine with an NVIDIA GPU that measures, side by side,
 * what decides dancelift's speed there, and writes bench/gpu-check.json (and $GPU_CHECK_OUT/ when
 * set). Every part runs on its own: a part that cannot run (no ffmpeg, a provider that does not
 * load) says why and the rest goes on. Without a GPU it says so (`gpu: null`), runs the same parts
 * at tiny sizes on the CPU and exits 0, so CI can run it as a dry run.
 *
 * Parts: GPU and driver (nvidia-smi), Vulkan devices, ffmpeg's NVIDIA encoders; realesrgan-ncnn-vulkan
 * x2 on 960x540 frames (start-up, fps); the ONNX upscaler per provider (fp32, fp16); RVM at
 * 1920x1080 per provider (fp32, fp16); NVENC vs libx264 at 1080p; a 10 s 540p → 1080p enhance end
 * to end (realtime factor, overlap efficiency).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig, packageRoot } from '../config/load.js';
import { enhance } from '../pipeline/index.js';
import { createOnnxUpscale } from '../pipeline/engines/upscale-onnx.js';
import { createRvmMatte } from '../pipeline/engines/matte-rvm.js';
import { ffmpegNvencEncoders } from '../pipeline/encoder.js';
import { estimateStartup, parseDoneLine } from '../pipeline/engines/realesrgan-calls.js';
import { providerPrecheck } from '../pipeline/engines/ort/providers.js';
import { parseVulkanDevice, realesrganArgs } from '../pipeline/engines/upscale-realesrgan.js';
import { locateRealesrganOnnx } from '../machine/onnx-upscale-models.js';
import { findRealesrgan, findRvmFp16, findRvmModel, vulkanDeviceList } from '../machine/tools.js';
import { nvidiaGpus, type NvidiaGpu } from '../machine/nvidia.js';
import type { Chunk, ChunkEngine, StageContext } from '../pipeline/types.js';
import { fp16Sibling } from '../machine/provision/fp16.js';
import { encodePng, syntheticFrame } from '../media/png.js';
import { checkSizes } from './gpu-check-sizes.js';
import { ffmpegBin } from '../media/ffmpeg.js';

export const PROVIDERS = ['tensorrt', 'cuda', 'webgpu', 'cpu'];

type Part = Record<string, unknown>;
const say = (m: string) => process.stderr.write(`gpu-check: ${m}\n`);
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 300);

async function part(name: string, body: () => Promise<Part>): Promise<Part> {
  const t0 = performance.now();
  say(`${name}…`);
  try {
    const r = await body();
    say(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { ...r, partS: (performance.now() - t0) / 1000 };
  } catch (err) {
    say(`${name}: failed: ${errText(err)}`);
    return { error: errText(err), partS: (performance.now() - t0) / 1000 };
  }
}

async function hasFfmpeg(): Promise<string | null> {
  let bin: string;
  try {
    bin = ffmpegBin();
  } catch {
    return null;
  }
  const r = await execa(bin, ['-hide_banner', '-version'], { reject: false }).catch(() => null);
  return r && r.exitCode === 0 ? String(r.stdout).split('\n')[0] : null;
}

function framesChunk(w: number, h: number, count: number): Chunk {
  const one = w * h * 3;
  const pixels = Buffer.alloc(one * count);
  for (let i = 0; i < count; i++) syntheticFrame(w, h, i).copy(pixels, i * one);
  return { index: 0, start: 0, count, width: w, height: h, format: 'rgb24', pixels };
}

/** Runs one engine on `count` frames after one warm-up frame; fps of the timed frames. */
async function timeEngine(engine: ChunkEngine, w: number, h: number, count: number, ctx: StageContext) {
  await engine.process(framesChunk(w, h, 1), ctx);
  const chunk = { ...framesChunk(w, h, count), index: 1, start: 1 };
  const t0 = performance.now();
  await engine.process(chunk, ctx);
  const s = (performance.now() - t0) / 1000;
  return { frames: count, seconds: s, fps: count / s, ...engine.info() };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const gpus = await nvidiaGpus();
  const gpu: NvidiaGpu | null = gpus?.[0] ?? null;
  const sizes = checkSizes(gpu !== null);
  say(gpu ? `GPU: ${gpu.name}, driver ${gpu.driver}` : 'no NVIDIA GPU (nvidia-smi missing or found none): CPU dry run at tiny sizes');
  const work = await mkdtemp(path.join(os.tmpdir(), 'dancelift-gpu-check-'));
  const dataDir = path.join(work, 'data');
  const config = loadConfig({ env: { ...process.env, DANCELIFT_DATA_DIR: process.env.DANCELIFT_DATA_DIR ?? dataDir, DANCELIFT_TEMP_DIR: path.join(work, 'tmp') } });
  const ctx: StageContext = { signal: new AbortController().signal, tempDir: path.join(work, 'tmp'), log: () => {} };
  await mkdir(ctx.tempDir, { recursive: true });
  const ffmpeg = await hasFfmpeg();
  const esr = findRealesrgan(config);
  const out: Part = {};

  out.machine = await part('machine', async () => ({
    gpus,
    vulkanDevices: await vulkanDeviceList().catch(() => []),
    ffmpeg,
    ffmpegNvidiaEncoders: ffmpeg ? await ffmpegNvencEncoders() : null,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.versions.node,
    onnxruntimeProvidersDir: path.join(packageRoot, 'node_modules', 'onnxruntime-node', 'bin'),
  }));

  out.realesrgan = await part('realesrgan-ncnn-vulkan x2', async () => {
    if (!esr) return { skipped: 'realesrgan-ncnn-vulkan not installed (npm run setup)' };
    const { w, h, frames } = sizes.esr;
    const inDir = path.join(work, 'esr-in');
    const outDir = path.join(work, 'esr-out');
    await mkdir(inDir, { recursive: true });
    await mkdir(outDir, { recursive: true });
    for (let i = 0; i < frames; i++) await writeFile(path.join(inDir, `${String(i).padStart(6, '0')}.png`), encodePng(syntheticFrame(w, h, i), w, h));
    const doneS: number[] = [];
    let firstProgressS: number | undefined;
    const start = performance.now();
    const sub = execa(esr.binary, realesrganArgs({ binary: esr.binary, modelsDir: esr.modelsDir, model: config.upscale.realesrgan.model, scale: 2, tile: 0, gpu: '' }, inDir, outDir), {
      cwd: path.dirname(esr.binary), reject: false, stdin: 'ignore', stdout: 'ignore', buffer: { stderr: true },
    });
    let stderr = '';
    sub.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split(/\r?\n/)) {
        if (parseDoneLine(line) !== null) doneS.push((performance.now() - start) / 1000);
        else if (/^\d+\.\d+%$/.test(line.trim())) firstProgressS ??= (performance.now() - start) / 1000;
        else stderr += `${line}\n`;
      }
    });
    const r = await sub;
    const totalS = (performance.now() - start) / 1000;
    if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`);
    const est = estimateStartup({ doneS, firstProgressS });
    return {
      input: `${w}x${h}`, frames, totalS,
      startupS: est?.startupS ?? null,
      fps: est && est.perFrameS > 0 ? 1 / est.perFrameS : null,
      startupShareOfThisCall: est ? est.startupS / totalS : null,
      device: parseVulkanDevice(stderr),
      vulkanDevicesSeenByBinary: [...stderr.matchAll(/^\[(\d+) (.+?)\]\s+queueC=/gm)].map((m) => `${m[1]}: ${m[2]}`),
    };
  });

  const variants = (file: string) => [['fp32', file], ['fp16', fp16Sibling(file)]].filter(([, f]) => existsSync(f));

  out.onnxUpscale = await part('ONNX upscaler per provider', async () => {
    const loc = locateRealesrganOnnx(config, 2);
    if (!loc.found) return { skipped: 'ONNX upscaler model not converted (npm run setup)' };
    const { w, h, frames } = sizes.onnx;
    const rows: Part[] = [];
    for (const [precision, file] of variants(loc.found.path)) {
      for (const provider of PROVIDERS) {
        const skipped = await providerPrecheck(provider);
        if (skipped) {
          rows.push({ provider, precision, skipped });
          continue;
        }
        const t = performance.now();
        try {
          const engine = await createOnnxUpscale({ modelPath: file, scale: 2, providers: [provider], tile: 0 });
          const loadS = (performance.now() - t) / 1000;
          try {
            rows.push({ provider, precision, loadS, input: `${w}x${h}`, ...(await timeEngine(engine, w, h, frames, ctx)) });
          } finally {
            await engine.close();
          }
        } catch (err) {
          rows.push({ provider, precision, error: errText(err) });
        }
      }
    }
    return { rows };
  });

  out.rvm = await part('RVM per provider', async () => {
    const model = findRvmModel(config);
    if (!model) return { skipped: 'RVM model not found (npm run setup, or DANCELIFT_RVM_MODEL)' };
    const { w, h, frames } = sizes.rvm;
    const rows: Part[] = [];
    // The fp16 copy lives in tools/models (the fp32 file's folder may be read-only); each row opens its file directly.
    const fp16 = findRvmFp16(model.path);
    for (const [precision, file] of [['fp32', model.path], ...(fp16 ? [['fp16', fp16]] : [])]) {
      for (const provider of PROVIDERS) {
        const skipped = await providerPrecheck(provider);
        if (skipped) {
          rows.push({ provider, precision, skipped });
          continue;
        }
        const logs: string[] = [];
        const t = performance.now();
        try {
          const engine = await createRvmMatte({ modelPath: file, providers: [provider], downsampleRatio: 'auto', log: (m) => logs.push(m) });
          const loadS = (performance.now() - t) / 1000;
          try {
            rows.push({ provider, precision, loadS, input: `${w}x${h}`, statesOnDevice: logs.some((l) => /states kept on the GPU/.test(l)), ...(await timeEngine(engine, w, h, frames, ctx)) });
          } finally {
            await engine.close();
          }
        } catch (err) {
          rows.push({ provider, precision, error: errText(err) });
        }
      }
    }
    return { model: path.basename(model.path), rows };
  });

  out.encode = await part('NVENC vs libx264 at 1080p', async () => {
    if (!ffmpeg) return { skipped: 'ffmpeg not installed on this machine' };
    const { w, h, frames } = sizes.encode;
    const rows: Part[] = [];
    for (const codec of ['h264_nvenc', 'libx264']) {
      const rate = codec === 'h264_nvenc' ? ['-preset', 'p5', '-cq', '18'] : ['-preset', 'veryfast', '-crf', '18'];
      const t = performance.now();
      const r = await execa(ffmpegBin(), ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', `testsrc2=s=${w}x${h}:r=30`, '-frames:v', String(frames), '-c:v', codec, ...rate, '-pix_fmt', 'yuv420p', '-f', 'null', '-'], { reject: false });
      const s = (performance.now() - t) / 1000;
      rows.push(r.exitCode === 0 ? { codec, frames, seconds: s, fps: frames / s } : { codec, error: String(r.stderr).trim().split('\n').slice(-1)[0] });
    }
    return { input: `${w}x${h} testsrc2`, rows };
  });

  out.enhance = await part('enhance end to end', async () => {
    if (!ffmpeg) return { skipped: 'ffmpeg not installed on this machine: decode and compose need it' };
    const { w, h, seconds, fps } = sizes.enhance;
    const input = path.join(work, 'input.mp4');
    await execa(ffmpegBin(), ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', `testsrc2=s=${w}x${h}:r=${fps}:d=${seconds}`, '-f', 'lavfi', '-i', `sine=d=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', input]);
    const r = await enhance({ input, output: path.join(work, 'output.mp4'), background: '#204060', config, scale: 2 });
    const busy = r.stats.stages.reduce((t, s) => t + s.seconds, 0);
    return {
      input: `${w}x${h} ${seconds} s ${fps} fps`, output: `${r.width}x${r.height}`,
      totalS: r.stats.totalS, realtimeFactor: r.stats.realtimeFactor,
      overlapEfficiency: busy / r.stats.totalS, peakTempBytes: r.stats.peakTempBytes,
      stages: r.stats.stages,
    };
  });

  const report = {
    gpu: gpu ? { name: gpu.name, driver: gpu.driver, memoryTotalMiB: gpu.memoryTotalMiB } : null,
    note: gpu ? `measured on ${gpu.name}` : 'no NVIDIA GPU here: a dry run of every part at tiny sizes on the CPU; the figures say nothing about GPU speed',
    date: new Date().toISOString(),
    host: os.hostname(),
    sizes,
    ...out,
    totalS: (performance.now() - t0) / 1000,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await mkdir(path.join(packageRoot, 'bench'), { recursive: true });
  await writeFile(path.join(packageRoot, 'bench', 'gpu-check.json'), json);
  if (process.env.GPU_CHECK_OUT) await writeFile(path.join(process.env.GPU_CHECK_OUT, 'gpu-check.json'), json);
  await rm(work, { recursive: true, force: true });
  say(`wrote bench/gpu-check.json in ${report.totalS.toFixed(0)} s`);
}

main().then(
  // onnxruntime and the worker threads may hold handles; the report is written.
  () => process.exit(0),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
