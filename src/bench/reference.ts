/**
 * The workflow dancelift replaces, as people run it today: separate programs over folders of PNG
 * frames, each waiting for the previous one. Same input, engines and settings as the pipeline; the
 * matting step uses dancelift's own RVM engine file to file, so that only the workflow differs.
 *
 * Every intermediate is lossless (PNG frames, an FFV1 RGBA video), so that the reference's output
 * differs from dancelift's only by what dancelift itself does: quality comparisons against it
 * (PSNR) are exact.
 */
import { resolveEncode } from '../pipeline/encoder.js';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Config } from '../config/schema.js';
import { audioArgs, coverFilter, backgroundInputArgs, overlayChain, videoEncodeArgs } from '../pipeline/compose.js';
import { decodeFilter } from '../pipeline/decode.js';
import { encodeColour } from '../media/colour.js';
import { lengthFilters, planLength } from '../pipeline/length.js';
import { modelFamily } from '../machine/upscale-models.js';
import { createMatter } from '../pipeline/engines/index.js';
import { realesrganArgs } from '../pipeline/engines/upscale-realesrgan.js';
import { readFrameChunks } from '../pipeline/frames.js';
import { ffmpegBin, INPUT_GUARDS, fileUrl } from '../media/ffmpeg.js';
import { findRealesrgan } from '../machine/tools.js';
import { frameBytes, type StageContext } from '../pipeline/types.js';
import { prepare, run, seconds, type SideSpec } from './common.js';
import type { StageSample } from './stats.js';

/**
 * The matted frames, foreground and alpha, losslessly (FFV1 RGBA). In a QuickTime file: from
 * Matroska the overlay's shortest=1 ends at the last frame's start and drops it.
 */
const ALPHA_VIDEO = ['-c:v', 'ffv1', '-pix_fmt', 'bgra'];

export async function runReference(config: Config, spec: SideSpec, log: (m: string) => void): Promise<StageSample[]> {
  const { info, plan, background } = await prepare(config, spec.input, spec.background);
  const found = findRealesrgan(config);
  if (!found) throw new Error('realesrgan-ncnn-vulkan is not installed (npm run setup)');
  const scale = config.upscale.scale;
  const rs = config.upscale.realesrgan;
  const work = spec.tempDir;
  const frames = path.join(work, 'frames');
  const upscaled = path.join(work, 'upscaled');
  const alpha = path.join(work, 'alpha.mov');
  await mkdir(frames, { recursive: true });
  await mkdir(upscaled, { recursive: true });
  const W = plan.width * scale;
  const H = plan.height * scale;
  const steps: StageSample[] = [];
  const step = async (name: string, engine: string, body: () => Promise<void>) => {
    const t0 = performance.now();
    await body();
    steps.push({ name, seconds: seconds(t0), frames: 0, engine, device: 'cpu' });
  };

  // 1. Every frame to a PNG, with the same normalisation (rate, size) as dancelift's decoder.
  await step('extract', 'ffmpeg png', () =>
    run(ffmpegBin(), ['-v', 'error', '-nostdin', ...INPUT_GUARDS, '-i', fileUrl(spec.input), '-map', '0:v:0', '-vf', decodeFilter(plan), '-frames:v', String(plan.expectedFrames), path.join(frames, '%08d.png')]));
  const count = (await readdir(frames)).length;

  // 2. The upscaler on the whole folder, once.
  const model = modelFamily(config);
  await step('realesrgan', `realesrgan-ncnn-vulkan ${model}-x${scale}`, () =>
    run(found.binary, realesrganArgs({ binary: found.binary, modelsDir: found.modelsDir, model, scale, tile: rs.tile, gpu: rs.gpu }, frames, upscaled), { cwd: path.dirname(found.binary) }));

  // The same encoder as dancelift would pick on this machine.
  const encode = await resolveEncode(config.encode);
  // 3. Matting reads the upscaled PNGs (no lossy video in between) and writes a lossless RGBA video.
  await step('matte-file', 'rvm (onnxruntime-node)', async () => {
    const matter = await createMatter(config, 'rvm', log);
    const ctx: StageContext = { signal: new AbortController().signal, tempDir: work, log };
    const reader = execa(ffmpegBin(), ['-v', 'error', '-nostdin', '-framerate', plan.fpsRational, '-i', path.join(upscaled, '%08d.png'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { buffer: { stdout: false }, encoding: 'buffer', stdin: 'ignore' });
    const writer = execa(ffmpegBin(), ['-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${W}x${H}`, '-framerate', plan.fpsRational, '-i', 'pipe:0', ...ALPHA_VIDEO, alpha], { stdin: 'pipe', stdout: 'ignore' });
    try {
      let index = 0;
      let start = 0;
      for await (const { pixels, count: n } of readFrameChunks(reader.stdout!, frameBytes(W, H, 'rgb24'), config.pipeline.chunkFrames)) {
        const out = await matter.process({ index: index++, start, count: n, width: W, height: H, format: 'rgb24', pixels }, ctx);
        start += n;
        if (!writer.stdin!.write(out.pixels)) await new Promise((r) => writer.stdin!.once('drain', r));
      }
      writer.stdin!.end();
      await Promise.all([reader, writer]);
    } finally {
      await matter.close();
    }
  });

  // 4. Over the background, with the original audio, encoded for posting: the same colour and length
  // handling as dancelift's compose.
  const colour = encodeColour(info.colour, W, H);
  const pad = lengthFilters(planLength(count, plan.fpsRational, info.audio?.durationS ?? null), info.audio ? 2 : -1);
  await step('overlay', `ffmpeg ${encode.codec}`, () =>
    run(ffmpegBin(), [
      '-v', 'error', '-nostdin', '-y',
      '-i', alpha,
      ...backgroundInputArgs(background, W, H, plan.fpsRational),
      ...INPUT_GUARDS, '-vn', '-i', fileUrl(spec.input),
      '-filter_complex', [`[1:v]${coverFilter(W, H, plan.fpsRational, background.kind)}[bg]`, overlayChain('[bg]', '[0:v]', colour, pad.video), ...(pad.audio ? [pad.audio] : [])].join(';'),
      '-map', '[out]', ...audioArgs(info.audio, 2, pad.audioLabel),
      ...videoEncodeArgs(encode, colour), spec.output,
    ]));
  return steps.map((s) => ({ ...s, frames: count }));
}
