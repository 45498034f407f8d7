import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enhance } from '../src/pipeline/index.js';
import { recompose } from '../src/pipeline/recompose.js';
import { repoRoot, ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';
import { testConfig } from './helpers/fixtures.js';
import { colourTags, barDiffs, rgbAsTagged } from './helpers/colour.js';

/** What a user sees: colours as a player reads the tags, and the whole picture and sound. */
const tmp = tempDir('dancelift-picture-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
afterAll(() => tmp.remove());

async function durations(file: string): Promise<{ video: number; audio: number | null; frames: number }> {
  const p = await ffprobeJson(file);
  const v = p.streams.find((s) => s.codec_type === 'video')!;
  const a = p.streams.find((s) => s.codec_type === 'audio');
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  return { video: Number(v.duration), audio: a ? Number(a.duration) : null, frames: Number(stdout.trim()) };
}

describe('colour: converted with the matrix it is tagged with', () => {
  let bars: string;
  beforeAll(async () => {
    // BT.709-tagged HD colour bars, made tiny: 128x72, 10 frames, lossless.
    bars = work('bars709.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'smptehdbars=s=128x72:r=10:d=1',
      '-vf', 'scale=out_color_matrix=bt709:out_range=tv:flags=accurate_rnd+full_chroma_int,format=yuv420p',
      '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      '-c:v', 'libx264', '-qp', '0', bars,
    ]);
  });

  it('BT.709 colour bars through `enhance --matting none --scale 1` come out tagged BT.709 and within 6 levels', async () => {
    const out = work('bars-out', 'bars709.enhanced.mp4');
    const r = await execa(process.execPath, [path.join(repoRoot, 'bin', 'dancelift.js'), 'enhance', bars, '--matting', 'none', '--scale', '1', '-o', work('bars-out')], {
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp') },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await colourTags(out)).toEqual({ space: 'bt709', range: 'tv', primaries: 'bt709', transfer: 'bt709' });
    const want = await rgbAsTagged(bars, 3, 128, 72);
    const got = await rgbAsTagged(out, 3, 128, 72);
    const d = barDiffs(want, got, 128, 72);
    console.log(`colour bars: ${d.bars} bars, the worst off by ${d.maxDiff.toFixed(1)} levels (${d.worst})`);
    expect(d.bars).toBeGreaterThanOrEqual(10);
    expect(d.maxDiff).toBeLessThanOrEqual(6);
  });

  it('the composed output, the cut-out and a recompose are tagged with the matrix they were converted with', async () => {
    const config = testConfig(tmp.dir);
    const cut = work('bars.cutout.mkv');
    await enhance({ input: bars, output: work('bars-rvm.mp4'), cutout: cut, upscaler: 'none', matting: 'rvm', background: '#000000', config });
    expect(await colourTags(work('bars-rvm.mp4'))).toMatchObject({ space: 'bt709', range: 'tv' });
    expect(await colourTags(cut)).toMatchObject({ space: 'bt709', range: 'tv' });
    const again = work('bars-recomposed.mp4');
    await recompose({ cutout: cut, output: again, background: '#000000', config });
    expect(await colourTags(again)).toMatchObject({ space: 'bt709', range: 'tv' });
  });
});

describe('length: the whole picture and the whole sound', () => {
  it('music that ends early (2 s on a 6 s clip): the clip comes out whole, the sound padded with silence', async () => {
    const clip = work('music-ends-early.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=10:d=6', '-f', 'lavfi', '-i', 'sine=f=440:d=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);
    const config = testConfig(tmp.dir);
    const out = work('music-ends-early.out.mp4');
    await enhance({ input: clip, output: out, upscaler: 'none', matting: 'none', config });
    const d = await durations(out);
    console.log(`music ends early: video ${d.video} s (${d.frames} frames), audio ${d.audio} s`);
    expect(d.frames).toBe(60);
    expect(d.audio).not.toBeNull();
    expect(Math.abs(d.audio! - 6)).toBeLessThanOrEqual(0.05);
  });

  it('picture that ends early (2 s of picture, 6 s of music): the music comes out whole over the held last frame', async () => {
    const clip = work('picture-ends-early.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=10:d=2', '-f', 'lavfi', '-i', 'sine=f=440:d=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip]);
    const input = await durations(clip);
    const config = testConfig(tmp.dir);
    const out = work('picture-ends-early.out.mp4');
    const cut = work('picture-ends-early.cutout.mkv');
    await enhance({ input: clip, output: out, cutout: cut, upscaler: 'none', matting: 'rvm', background: '#0000ff', config });
    const d = await durations(out);
    console.log(`picture ends early: input audio ${input.audio} s; output video ${d.video} s, audio ${d.audio} s`);
    expect(Math.abs(d.audio! - input.audio!)).toBeLessThanOrEqual(0.01);
    expect(d.video).toBeGreaterThanOrEqual(input.audio! - 0.1);
    // recompose pads the same way from the kept cut-out.
    const again = work('picture-ends-early.recomposed.mp4');
    await recompose({ cutout: cut, output: again, background: '#ff0000', config });
    const r = await durations(again);
    // The cut-out carries the sound copied into Matroska, which keeps one AAC frame more.
    expect(Math.abs(r.audio! - input.audio!)).toBeLessThanOrEqual(0.05);
    expect(r.video).toBeGreaterThanOrEqual(input.audio! - 0.1);
  });

  it('a variable-frame-rate clip keeps its last frame and its whole sound (within 10 ms)', async () => {
    // Irregular frame times, as phones record them; the last frame lasts 28 ms.
    const clip = work('vfr.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=s=64x64:r=30:d=2', '-f', 'lavfi', '-i', 'sine=f=440:d=2',
      '-vf', "settb=1/90000,setpts='(N/30+if(mod(N\\,2)\\,-0.01\\,0.005))/TB'", '-vsync', 'vfr', '-enc_time_base', '1/90000', '-video_track_timescale', '90000',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', clip,
    ]);
    const input = await durations(clip);
    const config = testConfig(tmp.dir);
    const out = work('vfr.out.mp4');
    await enhance({ input: clip, output: out, upscaler: 'none', matting: 'none', config });
    const d = await durations(out);
    console.log(`vfr: input video ${input.video} s (${input.frames} frames), audio ${input.audio} s; output video ${d.video} s (${d.frames} frames), audio ${d.audio} s`);
    expect(d.frames).toBe(input.frames);
    expect(Math.abs(d.audio! - input.audio!)).toBeLessThanOrEqual(0.01);
    expect(d.video).toBeGreaterThanOrEqual(input.video - 0.01);
  });
});
