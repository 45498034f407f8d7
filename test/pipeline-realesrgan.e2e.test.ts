import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enhance } from '../src/pipeline/index.js';
import { recompose } from '../src/pipeline/recompose.js';
import { PipelineError } from '../src/errors.js';
import { dirBytes } from '../src/pipeline/tempdir.js';
import { findRealesrgan } from '../src/machine/tools.js';
import { clips, ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { processCommandLines } from './helpers/procs.js';

const tmp = tempDir('dancelift-esrgan-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
let twoFrames: string;

beforeAll(async () => {
  // 2 frames of the dancer at 48x48: the real upscaler on Mesa's CPU Vulkan driver needs seconds per call.
  twoFrames = await makeClip(tmp.dir, 'girl2.mp4', clips.girl, { seconds: 0.5, width: 48, height: 48, audio: false });
});
afterAll(() => tmp.remove());

/** Processes whose command line mentions this test's temp dir: our children, if any are left. */
async function childrenLeft(): Promise<string[]> {
  return processCommandLines()
    .filter((p) => !p.zombie && p.args.includes(tmp.dir))
    .map((p) => p.args);
}

describe('realesrgan-ncnn-vulkan in the chunked pipeline', () => {
  it('is installed (npm run setup puts it in tools/)', () => {
    expect(findRealesrgan(testConfig(tmp.dir))).not.toBeNull();
  });

  it('upscales chunk by chunk on the Vulkan device, and recompose re-uses the cut-out without the heavy stages', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '48', DANCELIFT_CHUNK_FRAMES: '1', DANCELIFT_REALESRGAN_ON_CPU: 'use' });
    const cut = work('girl2.cutout.mkv');
    const first = await enhance({ input: twoFrames, output: work('girl2.mp4'), cutout: cut, background: '#00ff00', upscaler: 'realesrgan', matting: 'rvm', scale: 2, config });
    const up = first.stats.stages[1];
    // The default model, for real people (README, "Upscaler models").
    expect(up.engine).toBe('realesrgan-ncnn-vulkan general: realesrgan-x4fast-x2');
    expect(up.fallbackFrom).toBeUndefined();
    expect(up.device).toMatch(/llvmpipe|lavapipe|NVIDIA|AMD|Intel/i);
    expect(up.frames).toBe(2);
    // Chunks of one frame, yet one call of the binary for both: frames per call are not the chunk size.
    expect(up.calls).toMatchObject({ calls: 1, frames: 2 });
    const video = (await ffprobeJson(work('girl2.mp4'))).streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ width: 96, height: 96 });
    // the PNG round trip happened, in the run's temp dir, and was cleaned up
    expect(first.stats.peakTempBytes).toBeGreaterThan(0);
    expect(readdirSync(work('tmp'))).toEqual([]);

    // A colour, so that the timing below is not the library's first-time generation of its defaults.
    const again = await recompose({ cutout: cut, output: work('girl2-white.mp4'), background: '#ffffff', config });
    // Nothing is upscaled or matted again: only the compose stage runs.
    expect(again.stats.stages.map((s) => s.name)).toEqual(['compose']);
    expect((await ffprobeJson(work('girl2-white.mp4'))).streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 96, height: 96 });
    // The speed itself is a benchmark figure; this only guards against recompose doing the heavy work
    // (seen here 8–19x on a 2-core machine, depending on what else ran).
    const speedup = first.stats.totalS / again.stats.totalS;
    expect(speedup).toBeGreaterThanOrEqual(4);
  });

  it('cancel kills the upscaler and ffmpeg, removes temp files and leaves no output', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '48', DANCELIFT_CHUNK_FRAMES: '1', DANCELIFT_REALESRGAN_ON_CPU: 'use' });
    const ac = new AbortController();
    const out = work('cancelled.mp4');
    const running = enhance({ input: twoFrames, output: out, background: '#00ff00', upscaler: 'realesrgan', matting: 'rvm', config, signal: ac.signal });
    // wait until the upscaler really runs
    for (let i = 0; i < 100 && !(await childrenLeft()).some((l) => l.includes('realesrgan')); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await childrenLeft()).some((l) => l.includes('realesrgan'))).toBe(true);
    const t = performance.now();
    ac.abort();
    const err = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('CANCELLED');
    expect(performance.now() - t).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await childrenLeft()).toEqual([]);
    expect(readdirSync(work('tmp'))).toEqual([]);
    expect(readdirSync(tmp.dir).filter((f) => f.includes('cancelled'))).toEqual([]);
  });
});

describe('temp space', () => {
  it('does not grow with the length of the video', async () => {
    // The command engine writes each chunk to temp files (as an external matting script needs),
    // like the realesrgan engine but fast enough to run a clip four times longer.
    const short = await makeClip(tmp.dir, 'intel-2s.mp4', clips.intel, { seconds: 2, width: 96, height: 54, start: 20 });
    // The same 2 s four times over: same content per chunk, four times the length.
    const long = work('intel-8s.mp4');
    await ffmpeg(['-stream_loop', '3', '-i', short, '-c', 'copy', long]);
    const config = testConfig(tmp.dir, {
      DANCELIFT_CHUNK_FRAMES: '5',
      DANCELIFT_MATTE_COMMAND: 'ffmpeg -v error -y -i {input} -vf format=gray,geq=lum=255 -c:v libx264 -qp 0 {output}',
    });
    const peakOf = async (input: string) => {
      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await dirBytes(work('tmp')));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const r = await enhance({ input, output: work(`${path.basename(input)}.out.mp4`), background: 'white', upscaler: 'ffmpeg', matting: 'command', config });
      sampling = false;
      await sampler;
      return { sampled: peak, reported: r.stats.peakTempBytes, frames: r.stats.stages[0].frames };
    };
    const a = await peakOf(short);
    const b = await peakOf(long);
    console.log(`temp peak: ${a.frames} frames → ${a.sampled} B sampled (${a.reported} B reported); ${b.frames} frames → ${b.sampled} B (${b.reported} B)`);
    expect(b.frames).toBeGreaterThanOrEqual(a.frames * 3.5);
    expect(a.sampled).toBeGreaterThan(0);
    expect(b.sampled).toBeLessThan(a.sampled * 1.5);
    expect(b.reported).toBeLessThan(Math.max(a.reported, a.sampled) * 1.5);
    expect(existsSync(work('tmp')) ? readdirSync(work('tmp')) : []).toEqual([]);
  });
});
