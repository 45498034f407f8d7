import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enhance } from '../src/pipeline/index.js';
import { recompose } from '../src/pipeline/recompose.js';
import { PipelineError } from '../src/errors.js';
import { clips, ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';
import { boxMean, frameAt, makeClip, testConfig } from './helpers/fixtures.js';

const tmp = tempDir('dancelift-e2e-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const GREEN = '#00ff00';
let girl: string;
let musepose: string;
let openpose: string;

beforeAll(async () => {
  girl = clips.girl; // 512x512, 4 fps, 2 s, no audio
  // Portrait 1080x1920 with music, the closest to a Viggle video: trimmed and made small.
  musepose = await makeClip(tmp.dir, 'musepose.mp4', clips.musepose, { seconds: 1.5, width: 144, height: 256, start: 3 });
  // 50 fps with audio.
  openpose = await makeClip(tmp.dir, 'openpose.mp4', clips.openpose, { seconds: 1, width: 192, height: 108 });
});
afterAll(() => tmp.remove());

const near = (a: number[], b: number[], tol: number) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

async function streams(file: string) {
  const p = await ffprobeJson(file);
  return { video: p.streams.find((s) => s.codec_type === 'video')!, audio: p.streams.find((s) => s.codec_type === 'audio'), duration: Number(p.format.duration) };
}

describe('enhance, end to end on real clips', () => {
  it('puts the girl_dancing dancer on a green background at twice the normalised size', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '128', DANCELIFT_CHUNK_FRAMES: '3' });
    const out = work('girl.mp4');
    const progress: string[] = [];
    const r = await enhance({ input: girl, output: out, background: GREEN, upscaler: 'ffmpeg', matting: 'rvm', scale: 2, config, onProgress: (p) => progress.push(p.stage) });

    expect(r).toMatchObject({ width: 256, height: 256, hasAudio: false });
    const s = await streams(out);
    expect(s.video).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', width: 256, height: 256 });
    expect(s.audio).toBeUndefined();
    expect(Math.abs(s.duration - 2)).toBeLessThanOrEqual(0.25); // within one frame at 4 fps
    // +faststart: the index (moov) comes before the media data (mdat).
    const bytes = readFileSync(out);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));

    const frame = await frameAt(out, 4, 256, 256);
    for (const [x, y] of [[0, 0], [240, 0], [0, 240], [240, 240]]) {
      expect(near(boxMean(frame, 256, x, y, 16, 16), [0, 255, 0], 40), `corner ${x},${y}`).toBe(true);
    }
    // The dancer (centre of the frame, torso) is not the background colour.
    expect(near(boxMean(frame, 256, 112, 96, 32, 32), [0, 255, 0], 60)).toBe(false);

    expect(r.stats.stages.map((st) => st.name)).toEqual(['decode', 'upscale', 'matte', 'compose']);
    for (const st of r.stats.stages) {
      expect(st.frames).toBe(8);
      expect(st.fps).toBeGreaterThan(0);
    }
    expect(r.stats.stages[1]).toMatchObject({ engine: 'ffmpeg lanczos' });
    expect(r.stats.stages[2].device).toMatch(/cpu/);
    expect(r.stats.realtimeFactor).toBeCloseTo(r.stats.totalS / r.durationS, 5);
    expect(new Set(progress)).toEqual(new Set(['decode', 'upscale', 'matte', 'compose']));
  });

  it('keeps the music of a portrait clip, in sync and to the frame', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '72' });
    const out = work('musepose.mp4');
    const r = await enhance({ input: musepose, output: out, background: 'studio', upscaler: 'ffmpeg', matting: 'rvm', scale: 2, config });
    const s = await streams(out);
    const input = await streams(musepose);
    expect(s.video).toMatchObject({ width: 144, height: 256, r_frame_rate: '24/1' });
    expect(s.audio).toMatchObject({ codec_name: 'aac' });
    expect(Math.abs(s.duration - input.duration)).toBeLessThanOrEqual(1 / 24 + 1e-3);
    expect(r.hasAudio).toBe(true);
  });

  it('keeps 50 fps and the audio of openpose_street', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '108' });
    const out = work('openpose.mp4');
    await enhance({ input: openpose, output: out, background: GREEN, upscaler: 'ffmpeg', matting: 'rvm', scale: 2, config });
    const s = await streams(out);
    expect(s.video).toMatchObject({ width: 384, height: 216, r_frame_rate: '50/1' });
    expect(s.audio).toBeDefined();
    expect(Math.abs(s.duration - (await streams(openpose)).duration)).toBeLessThanOrEqual(1 / 50 + 1e-3);
  });

  it('re-encodes audio MP4 cannot carry (Opus in MKV) to AAC, keeping its length', async () => {
    const mkv = work('girl-opus.mkv');
    await ffmpeg(['-i', girl, '-f', 'lavfi', '-i', 'sine=f=440:d=2', '-shortest', '-c:v', 'copy', '-c:a', 'libopus', mkv]);
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '64' });
    const out = work('girl-opus.mp4');
    await enhance({ input: mkv, output: out, background: GREEN, upscaler: 'ffmpeg', matting: 'none', config });
    const s = await streams(out);
    expect(s.audio).toMatchObject({ codec_name: 'aac' });
    expect(Math.abs(s.duration - 2)).toBeLessThanOrEqual(0.25);
  });

  it('with matting none keeps the original background', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '64' });
    const out = work('girl-nomatte.mp4');
    const r = await enhance({ input: girl, output: out, background: GREEN, upscaler: 'ffmpeg', matting: 'none', scale: 2, config });
    expect(r.stats.stages[2].engine).toBe('none');
    const frame = await frameAt(out, 0, 128, 128);
    // girl_dancing's studio is pink: the corners are not green.
    expect(near(boxMean(frame, 128, 0, 0, 8, 8), [0, 255, 0], 60)).toBe(false);
  });

  it('mattes the same in chunks as in one piece (recurrent state carried across chunks)', async () => {
    const alphaOf = async (chunkFrames: string) => {
      const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '96', DANCELIFT_CHUNK_FRAMES: chunkFrames });
      const cut = work(`girl-${chunkFrames}.cutout.mkv`);
      await enhance({ input: girl, output: work(`girl-${chunkFrames}.mp4`), cutout: cut, background: GREEN, upscaler: 'none', matting: 'rvm', config });
      const { execa } = await import('execa');
      const { stdout } = await execa('ffmpeg', ['-v', 'error', '-i', cut, '-map', '0:v:1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { encoding: 'buffer' });
      return Buffer.from(stdout);
    };
    const chunked = await alphaOf('3');
    const whole = await alphaOf('100');
    expect(chunked.length).toBe(96 * 96 * 8);
    expect(chunked.equals(whole)).toBe(true);
    // and the alpha is a real matte, neither empty nor full
    const mean = chunked.reduce((a, v) => a + v, 0) / chunked.length / 255;
    expect(mean).toBeGreaterThan(0.15);
    expect(mean).toBeLessThan(0.6);
  });

  it('refuses bad input before doing any work, leaving no temp files', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_DURATION_S: '1' });
    const err = await enhance({ input: girl, output: work('long.mp4'), background: GREEN, config }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('TOO_LONG');
    expect(existsSync(work('long.mp4'))).toBe(false);
    expect(existsSync(work('tmp')) ? readdirSync(work('tmp')) : []).toEqual([]);
  });

  it('refuses an unknown background by name, listing the library', async () => {
    const config = testConfig(tmp.dir);
    const err = await enhance({ input: girl, output: work('x.mp4'), background: 'moonbase', upscaler: 'ffmpeg', config }).catch((e: unknown) => e);
    expect((err as PipelineError).code).toBe('BACKGROUND_MISSING');
    expect(String((err as PipelineError).params.available)).toContain('studio');
  });
});

describe('recompose', () => {
  it('puts a kept cut-out on another background without upscaling or matting again', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '128' });
    const cut = work('girl.cutout.mkv');
    const first = await enhance({ input: girl, output: work('girl-first.mp4'), cutout: cut, background: GREEN, upscaler: 'ffmpeg', matting: 'rvm', config });
    const again = await recompose({ cutout: cut, output: work('girl-red.mp4'), background: '#ff0000', config });
    expect(again).toMatchObject({ width: 256, height: 256 });
    const frame = await frameAt(work('girl-red.mp4'), 4, 256, 256);
    expect(near(boxMean(frame, 256, 0, 0, 16, 16), [255, 0, 0], 40)).toBe(true);
    expect(near(boxMean(frame, 256, 112, 96, 32, 32), [255, 0, 0], 60)).toBe(false);
    expect(again.stats.totalS).toBeLessThan(first.stats.totalS);
  });
});
