import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import {
  backgroundFileInputArgs,
  DEFAULT_BACKGROUNDS,
  ensureDefaultBackgrounds,
  listBackgrounds,
  parseColor,
  resolveBackground,
  type Background,
} from '../src/backgrounds/library.js';
import { PipelineError } from '../src/errors.js';
import { clips, ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';
import { rejection } from './helpers/assert.js';

const SIZE = 64; // stills 64x64, videos 36x36: the same recipes as the 1920/1080 defaults, fast.


describe('background library', () => {
  const tmp = tempDir('dancelift-bg-');
  const lib = path.join(tmp.dir, 'library');
  let firstRun: Awaited<ReturnType<typeof ensureDefaultBackgrounds>>;

  beforeAll(async () => {
    firstRun = await ensureDefaultBackgrounds(lib, { size: SIZE });
  }, 60_000);
  afterAll(() => tmp.remove());

  it('generates every default, readable by ffprobe, with the right kind and size', async () => {
    expect(firstRun.generated.sort()).toEqual(DEFAULT_BACKGROUNDS.map((d) => d.name).sort());
    const files = (await readdir(lib)).filter((f) => !f.startsWith('.'));
    expect(files.sort()).toEqual(['green.png', 'neon.mp4', 'night.mp4', 'studio.png', 'sunset.png', 'white.png']);
    // No temporary files left behind.
    expect((await readdir(lib)).filter((f) => f.includes('.tmp'))).toEqual([]);
    for (const d of DEFAULT_BACKGROUNDS) {
      const file = path.join(lib, `${d.name}.${d.kind === 'image' ? 'png' : 'mp4'}`);
      const probe = await ffprobeJson(file);
      const v = probe.streams.find((s) => s.codec_type === 'video')!;
      if (d.kind === 'image') {
        expect(v.codec_name).toBe('png');
        expect([v.width, v.height]).toEqual([SIZE, SIZE]);
      } else {
        expect(v.codec_name).toBe('h264');
        expect(v.pix_fmt).toBe('yuv420p');
        expect([v.width, v.height]).toEqual([36, 36]);
        expect(Number(v.nb_frames)).toBe(150);
        expect(Number(probe.format.duration)).toBeCloseTo(6, 1);
      }
    }
  });

  it('green is chroma green #00b140 and white is white', async () => {
    const px = async (file: string) =>
      (await execa('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-vf', 'crop=1:1:10:10', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer' })).stdout;
    expect([...(await px(path.join(lib, 'green.png')))]).toEqual([0x00, 0xb1, 0x40]);
    expect([...(await px(path.join(lib, 'white.png')))]).toEqual([255, 255, 255]);
  });

  it('the videos loop seamlessly: the frame after the last equals the first', async () => {
    // Recipes turn the gradient one full circle in 150 frames: frame 150 would be frame 0 again,
    // so the last frame (149) is one step from the first, like any two neighbours.
    const frames = (await execa('ffmpeg', ['-v', 'error', '-i', path.join(lib, 'neon.mp4'), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 })).stdout;
    const n = 36 * 36 * 3;
    const frame = (i: number) => frames.subarray(i * n, (i + 1) * n);
    const meanDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    const wrap = meanDiff(frame(149), frame(0));
    const step = meanDiff(frame(1), frame(0));
    const half = meanDiff(frame(75), frame(0));
    expect(half).toBeGreaterThan(10); // it really moves
    expect(wrap).toBeLessThan(step * 2 + 1.5);
  });

  it('a second run generates nothing and leaves the files untouched', async () => {
    const before = await Promise.all((await readdir(lib)).map(async (f) => [f, (await stat(path.join(lib, f))).mtimeMs] as const));
    const again = await ensureDefaultBackgrounds(lib, { size: SIZE });
    expect(again.generated).toEqual([]);
    const after = await Promise.all((await readdir(lib)).map(async (f) => [f, (await stat(path.join(lib, f))).mtimeMs] as const));
    expect(after.sort()).toEqual(before.sort());
  });

  it('a default replaced by the user (other extension) is kept; a deleted one stays deleted unless restored', async () => {
    const dir = path.join(tmp.dir, 'partial');
    await ensureDefaultBackgrounds(dir, { size: SIZE });
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'white.png'));
    await rm(path.join(dir, 'studio.png'));
    await copyFile(clips.officeJpg, path.join(dir, 'studio.jpg'));
    const r = await ensureDefaultBackgrounds(dir, { size: SIZE });
    expect(r.generated).toEqual([]);
    const restored = await ensureDefaultBackgrounds(dir, { size: SIZE, restore: true });
    expect(restored.generated).toEqual(['white']);
    const studio = await resolveBackground('studio', dir);
    expect(studio).toMatchObject({ kind: 'image', path: path.join(dir, 'studio.jpg') });
  }, 30_000);

  it('lists the library sorted by name with kinds', async () => {
    const list = await listBackgrounds(lib);
    expect(list.map((b) => b.name)).toEqual(['green', 'neon', 'night', 'studio', 'sunset', 'white']);
    expect(Object.fromEntries(list.map((b) => [b.name, b.kind]))).toEqual({
      green: 'image',
      neon: 'video',
      night: 'video',
      studio: 'image',
      sunset: 'image',
      white: 'image',
    });
    for (const b of list) expect(path.isAbsolute(b.path)).toBe(true);
    expect(await listBackgrounds(path.join(tmp.dir, 'does-not-exist'))).toEqual([]);
  });

  it('resolves a library name, case-insensitively', async () => {
    expect(await resolveBackground('night', lib)).toMatchObject({ kind: 'video', name: 'night', path: path.join(lib, 'night.mp4') });
    expect(await resolveBackground('  Studio ', lib)).toMatchObject({ kind: 'image', name: 'studio', path: path.join(lib, 'studio.png') });
    // The file name with its extension works too.
    expect(await resolveBackground('neon.MP4', lib)).toMatchObject({ kind: 'video', name: 'neon' });
  });

  it('resolves colours', async () => {
    expect(await resolveBackground('color:#00B140', lib)).toEqual({ kind: 'color', color: '0x00b140', name: 'color:#00B140' });
    expect(await resolveBackground('#ff0000', lib)).toMatchObject({ kind: 'color', color: '0xff0000' });
    expect(await resolveBackground('color:red', lib)).toMatchObject({ kind: 'color', color: '0xff0000' });
    expect(await resolveBackground('#abc', lib)).toMatchObject({ kind: 'color', color: '0xaabbcc' });
    // A bare colour name works when no background has that name; the library wins otherwise.
    expect(await resolveBackground('blue', lib)).toMatchObject({ kind: 'color', color: '0x0000ff' });
    expect((await resolveBackground('green', lib)).kind).toBe('image');
    expect(parseColor('nope')).toBeNull();
    const bad = await rejection(resolveBackground('color:notacolour', lib));
    expect(bad.code).toBe('BACKGROUND_MISSING');
    expect(String(bad.params.reason)).toMatch(/not a colour/);
    expect((await rejection(resolveBackground('#12345', lib))).code).toBe('BACKGROUND_MISSING');
  });

  it('refuses an unknown name, listing what is available', async () => {
    const err = await rejection(resolveBackground('beach', lib));
    expect(err.code).toBe('BACKGROUND_MISSING');
    expect(err.params).toMatchObject({ name: 'beach', available: 'green, neon, night, studio, sunset, white' });
  });

  it('tells an image from a video by probing, never by the name', async () => {
    const jpg = await resolveBackground(clips.officeJpg, lib);
    expect(jpg).toMatchObject({ kind: 'image', path: clips.officeJpg, name: 'rvm_demo_background_640x480' });
    const mp4 = await resolveBackground(clips.girl, lib);
    expect(mp4).toMatchObject({ kind: 'video', path: clips.girl });

    // A JPEG named .mp4 is still an image; a one-frame MP4 counts as an image; an animated GIF is a video.
    const dir = path.join(tmp.dir, 'files');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await copyFile(clips.officeJpg, path.join(dir, 'photo.mp4'));
    expect((await resolveBackground(path.join(dir, 'photo.mp4'), lib)).kind).toBe('image');
    await ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=32x32', '-frames:v', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path.join(dir, 'still.mp4')]);
    expect((await resolveBackground(path.join(dir, 'still.mp4'), lib)).kind).toBe('image');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=s=32x32:r=5:d=1', path.join(dir, 'anim.gif')]);
    expect((await resolveBackground(path.join(dir, 'anim.gif'), lib)).kind).toBe('video');
    // A relative path works too.
    const rel = path.relative(process.cwd(), clips.officeJpg);
    expect((await resolveBackground(rel, lib)).kind).toBe('image');
  }, 30_000);

  it('refuses a path that is not an image or video, saying why', async () => {
    const dir = path.join(tmp.dir, 'bad');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    const text = path.join(dir, 'notes.png');
    await writeFile(text, 'just some text, not a picture\n');
    const e1 = await rejection(resolveBackground(text, lib));
    expect(e1.code).toBe('BACKGROUND_MISSING');
    expect(e1.message).toMatch(/not an image or video/);
    expect(e1.params.available).toBe('green, neon, night, studio, sunset, white');

    const wav = path.join(dir, 'music.wav');
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=0.2', wav]);
    expect((await rejection(resolveBackground(wav, lib))).message).toMatch(/audio/);

    const playlist = path.join(dir, 'list.m3u8');
    await writeFile(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n${clips.girl}\n#EXT-X-ENDLIST\n`);
    const e3 = await rejection(resolveBackground(playlist, lib));
    expect(e3.code).toBe('BACKGROUND_MISSING');

    const e4 = await rejection(resolveBackground(path.join(dir, 'missing.png'), lib));
    expect(e4.message).toMatch(/no such file/);
    const e5 = await rejection(resolveBackground(dir, lib));
    expect(e5.message).toMatch(/folder/);

    // A broken image that probes but does not decode.
    const { readFile } = await import('node:fs/promises');
    const truncated = path.join(dir, 'truncated.png');
    await writeFile(truncated, (await readFile(path.join(lib, 'studio.png'))).subarray(0, 60));
    expect((await rejection(resolveBackground(truncated, lib))).code).toBe('BACKGROUND_MISSING');

    // The same broken file in a library: left out of the list, and resolving it by name says why.
    const brokenLib = path.join(tmp.dir, 'broken-lib');
    await mkdir(brokenLib, { recursive: true });
    await copyFile(truncated, path.join(brokenLib, 'broken.png'));
    await copyFile(clips.officeJpg, path.join(brokenLib, 'office.jpg'));
    expect((await listBackgrounds(brokenLib)).map((b) => b.name)).toEqual(['office']);
    const e6 = await rejection(resolveBackground('Broken', brokenLib));
    expect(e6.code).toBe('BACKGROUND_MISSING');
    expect(e6.params).toMatchObject({ name: 'Broken', available: 'office' });
    expect(String(e6.params.reason)).toMatch(/cannot be decoded|not an image/);
  }, 30_000);

  it('does not follow protocol-looking names or paths when paths are not allowed', async () => {
    const e = await rejection(resolveBackground('http://example.com/bg.png', lib));
    expect(e.code).toBe('BACKGROUND_MISSING');
    const e2 = await rejection(resolveBackground(clips.officeJpg, lib, { allowPaths: false }));
    expect(e2.code).toBe('BACKGROUND_MISSING');
    expect((await resolveBackground('neon', lib, { allowPaths: false })).kind).toBe('video');
  });

  it('its input arguments open each kind of background with ffmpeg, looped', async () => {
    const dir = path.join(tmp.dir, 'files');
    const specs = ['studio', 'neon', clips.officeJpg, path.join(dir, 'still.mp4'), path.join(dir, 'photo.mp4'), path.join(dir, 'anim.gif')];
    for (const spec of specs) {
      const bg = (await resolveBackground(spec, lib)) as Extract<Background, { path: string }>;
      const r = await execa('ffmpeg', ['-v', 'error', ...backgroundFileInputArgs(bg), '-frames:v', '60', '-f', 'framecrc', '-']);
      expect(r.stdout.split('\n').filter((l) => /^0,/.test(l)).length, spec).toBe(60);
    }
  }, 30_000);
});
