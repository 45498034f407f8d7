import { existsSync, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDelivery, prepareDeliveryFor } from '../src/media/fit.js';
import { loadConfig } from '../src/config/load.js';
import { clips, ffmpeg, ffprobeJson, tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-fit-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
/** 2.5 s of the 720p50 street clip with its sound, at a high quality: ~3 MB. */
const street = work('street.mp4');

beforeAll(async () => {
  await ffmpeg(['-i', clips.openpose, '-t', '2.5', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '14', '-c:a', 'aac', '-b:a', '128k', street]);
});
afterAll(() => tmp.remove());

/** Decodes every frame; ffmpeg fails on a broken or truncated file. */
async function decodesWhole(file: string): Promise<number> {
  const r = await execa('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
  expect(r.stderr).toBe('');
  const { streams } = await ffprobeJson(file);
  return streams.length;
}

describe('prepareDelivery on real clips', () => {
  it('re-encodes a clip to fit a small limit, keeping a source under 540p at its own size (the floor)', async () => {
    const limit = 40_000;
    expect((await stat(clips.girl)).size).toBeGreaterThan(limit);
    const d = await prepareDelivery({ file: clips.girl, limitBytes: limit, fittedPath: work('girl.fit.mp4'), tempDir: tmp.dir });
    try {
      expect(d.plan.kind).toBe('fitted');
      expect(d.file).toBe(work('girl.fit.mp4'));
      const { size } = await stat(d.file!);
      expect(size).toBeLessThanOrEqual(limit * 0.95);
      expect(d.outcome).toMatchObject({ kind: 'fitted', sentBytes: size, sentWidth: 512, sentHeight: 512, originalWidth: 512 });
      const probe = await ffprobeJson(d.file!);
      const v = probe.streams.find((s) => s.codec_type === 'video')!;
      expect([v.codec_name, v.width, v.height, v.pix_fmt]).toEqual(['h264', 512, 512, 'yuv420p']);
      expect(Number(probe.format.duration)).toBeCloseTo(2, 0);
      await decodesWhole(d.file!);
      expect(d.line('en')).toMatch(/^📦 Re-encoded to fit/);
    } finally {
      await d.cleanup();
    }
    expect(existsSync(work('girl.fit.mp4'))).toBe(false);
  });

  it('scales a 720p50 clip with sound down to the 540p floor to fit, keeping the sound', async () => {
    const limit = 700_000;
    expect((await stat(street)).size).toBeGreaterThan(limit);
    const d = await prepareDelivery({ file: street, limitBytes: limit, tempDir: tmp.dir });
    try {
      expect(d.plan).toMatchObject({ kind: 'fitted', width: 960, height: 540, audioKbps: 96 });
      const { size } = await stat(d.file!);
      expect(size).toBeLessThanOrEqual(limit * 0.95);
      const probe = await ffprobeJson(d.file!);
      const v = probe.streams.find((s) => s.codec_type === 'video')!;
      expect(Math.min(v.width!, v.height!)).toBeGreaterThanOrEqual(540);
      // 720p counts as BT.709; at 540p an untagged copy would be read as BT.601, so it is tagged.
      expect(v).toMatchObject({ color_space: 'bt709', color_primaries: 'bt709', color_transfer: 'bt709', color_range: 'tv' });
      expect(probe.streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac')).toBe(true);
      expect(await decodesWhole(d.file!)).toBe(2);
    } finally {
      await d.cleanup();
    }
  });

  it('sends the link alone when not even the floor fits, and leaves nothing behind', async () => {
    const before = readdirSync(tmp.dir).sort();
    const d = await prepareDelivery({ file: street, limitBytes: 60_000, tempDir: tmp.dir });
    expect(d.plan.kind).toBe('link-only');
    expect(d.file).toBeUndefined();
    expect(d.outcome).toMatchObject({ kind: 'link-only', originalWidth: 1280, originalHeight: 720 });
    expect(d.line('zh')).toContain('只发链接');
    await d.cleanup();
    expect(readdirSync(tmp.dir).sort()).toEqual(before);
  });

  it("follows config's delivery: settings (fit: false → link only; a higher floor)", async () => {
    const config = loadConfig({ env: {} });
    const off = await prepareDeliveryFor({ delivery: { ...config.delivery, fit: false } }, clips.girl, 40_000);
    expect(off.plan.kind).toBe('link-only');
    expect(off.outcome.kind).toBe('link-only');
    expect(off.file).toBeUndefined();
    // 700 kB fits the street clip at 540p by default (above); asking for 0.5 bits per pixel, it does not.
    const strict = await prepareDeliveryFor({ delivery: { ...config.delivery, minBitsPerPixel: 0.5 } }, street, 700_000);
    expect(strict.outcome.kind).toBe('link-only');
  });

  it('hands over the original when it already fits', async () => {
    const d = await prepareDelivery({ file: clips.girl, limitBytes: 10 * 1024 * 1024 });
    expect(d.plan.kind).toBe('as-is');
    expect(d.file).toBe(clips.girl);
    expect(d.outcome).toMatchObject({ kind: 'as-is', sentWidth: 512 });
    await d.cleanup();
    expect(existsSync(clips.girl)).toBe(true);
  });
});
