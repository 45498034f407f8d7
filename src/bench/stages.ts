/**
 * Each stage of dancelift alone, on the whole clip, one after the other: the same engines and
 * settings as the pipeline, fed from memory so that only the stage's own work is timed. Their sum
 * against the pipelined wall time is the overlap efficiency.
 */
import { rm } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { composeFromChunks } from '../pipeline/compose.js';
import { encodeColour } from '../media/colour.js';
import { decodeChunks } from '../pipeline/decode.js';
import { createMatter, createUpscaler, type UpscalerName } from '../pipeline/engines/index.js';
import { makeRunDir } from '../pipeline/tempdir.js';
import { RVM_VARIANTS } from '../machine/rvm-variants.js';
import { findRvmModel } from '../machine/tools.js';
import { resolveEncode } from '../pipeline/encoder.js';
import { runInCalls } from '../pipeline/engines/run-in-calls.js';
import { isCallEngine, type CallUpscaleEngine } from '../pipeline/engines/upscale-realesrgan.js';
import type { Chunk, ChunkEngine, StageContext } from '../pipeline/types.js';
import { isOnnxUpscaler, prepare, seconds, type SideSpec } from './common.js';
import type { StageSample } from './stats.js';
import { FFMPEG } from '../media/ffmpeg.js';

/** Holding every frame of every stage in memory is what makes a stage alone measurable; cap it. */
const MAX_HELD_BYTES = 6 * 2 ** 30;

/** The binary engine as the pipeline runs it: in calls of many frames, not one call per chunk. */
async function timeCalls(name: string, engine: CallUpscaleEngine, chunks: Chunk[], ctx: StageContext): Promise<{ sample: StageSample; out: Chunk[] }> {
  const out: Chunk[] = [];
  async function* feed() {
    yield* chunks;
  }
  const t = performance.now();
  await runInCalls(engine, feed(), chunks.reduce((n, c) => n + c.count, 0), ctx, async (c) => {
    out.push(c);
  });
  const info = engine.info();
  const frames = out.reduce((n, c) => n + c.count, 0);
  return { sample: { name, seconds: seconds(t), frames, engine: info.engine, device: info.device, ...(info.calls ? { calls: info.calls } : {}) }, out };
}

async function timeEngine(name: string, engine: ChunkEngine, chunks: Chunk[], ctx: StageContext): Promise<{ sample: StageSample; out: Chunk[] }> {
  const out: Chunk[] = [];
  let busy = 0;
  for (const c of chunks) {
    const t = performance.now();
    out.push(await engine.process(c, ctx));
    busy += performance.now() - t;
  }
  const info = engine.info();
  const frames = out.reduce((n, c) => n + c.count, 0);
  return { sample: { name, seconds: busy / 1000, frames, engine: info.engine, device: info.device }, out };
}

export async function runStagesAlone(config: Config, spec: SideSpec, log: (m: string) => void): Promise<StageSample[]> {
  const { info, plan, background } = await prepare(config, spec.input, spec.background);
  const scale = config.upscale.scale;
  const held = plan.expectedFrames * plan.width * plan.height * scale * scale * 4 * 2;
  if (held > MAX_HELD_BYTES) throw new Error(`the stages-alone run would hold ${(held / 2 ** 30).toFixed(1)} GiB of frames: use a smaller --size, --fps or --seconds`);
  const runDir = await makeRunDir(config.pipeline.tempDir, 'bench-stages');
  const signal = new AbortController().signal;
  const ctx: StageContext = { signal, tempDir: runDir, log };
  const samples: StageSample[] = [];
  try {
    let t0 = performance.now();
    const decoded: Chunk[] = [];
    for await (const c of decodeChunks(spec.input, plan, config.pipeline.chunkFrames, signal)) decoded.push(c);
    samples.push({ name: 'decode', seconds: seconds(t0), frames: decoded.reduce((n, c) => n + c.count, 0), engine: FFMPEG, device: 'cpu' });

    const upscale = async (name: string, engineName: UpscalerName) => {
      const engine = await createUpscaler(config, engineName, scale, log);
      try {
        // A fallback would time another engine under this one's name.
        if (engineName === 'onnx' && !isOnnxUpscaler(engine.info().engine)) {
          log(`onnx upscaler alone skipped: ${engine.info().fallbackFrom ?? 'another engine took over'}`);
          return null;
        }
        return isCallEngine(engine) ? await timeCalls(name, engine, decoded, ctx) : await timeEngine(name, engine, decoded, ctx);
      } finally {
        await engine.close();
      }
    };
    const up = (await upscale('upscale', 'realesrgan'))!;
    samples.push(up.sample);
    if (spec.withOnnx) {
      const onnx = await upscale('upscale-onnx', 'onnx');
      if (onnx) samples.push(onnx.sample);
    }

    const matte = async (name: string, variant = config.matte.rvm.variant) => {
      const engine = await createMatter(config, 'rvm', log, { variant });
      try {
        return await timeEngine(name, engine, up.out, ctx);
      } finally {
        await engine.close();
      }
    };
    const m = await matte('matte');
    samples.push(m.sample);
    const matted = m.out;
    // The other RVM network beside the default one, on the same frames, when its file is here (the
    // bench never downloads it; with matte.rvm.model set both would be the same file).
    for (const variant of RVM_VARIANTS) {
      if (variant === config.matte.rvm.variant || config.matte.rvm.model) continue;
      if (findRvmModel(config, undefined, variant)) samples.push((await matte(`matte-${variant}`, variant)).sample);
      else log(`rvm ${variant} alone skipped: its model is not here (dancelift provision --matting-model ${variant})`);
    }

    async function* feed() {
      yield* matted;
    }
    const encode = await resolveEncode(config.encode);
    t0 = performance.now();
    await composeFromChunks(
      {
        width: plan.width * scale,
        height: plan.height * scale,
        fpsRational: plan.fpsRational,
        frameFormat: 'rgba',
        audioFrom: info.audio ? { file: spec.input, codec: info.audio.codec, durationS: info.audio.durationS } : null,
        frames: matted.reduce((n, c) => n + c.count, 0),
        colour: encodeColour(info.colour, plan.width * scale, plan.height * scale),
        background,
        output: spec.output,
        encode,
      },
      feed(),
      signal,
      () => {},
    );
    samples.push({ name: 'compose', seconds: seconds(t0), frames: matted.reduce((n, c) => n + c.count, 0), engine: `ffmpeg ${encode.codec}`, device: encode.codec === 'h264_nvenc' ? 'nvenc' : 'cpu' });
    return samples;
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}
