import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeVideo, interpretProbe, classifyProbeFailure, defaultLimits } from '../src/media/probe.js';
import { planNormalize, decodeArgs } from '../src/pipeline/decode.js';
import { clips, ffmpeg, tempDir } from './helpers/media.js';
import { rejection } from './helpers/assert.js';

const tmp = tempDir('dancelift-probe-');
const f = (name: string) => path.join(tmp.dir, name);

beforeAll(async () => {
  writeFileSync(f('notes.mp4'), 'these are my dance notes, not a video\n');
  writeFileSync(f('empty.mp4'), '');
  writeFileSync(f('concat.mp4'), `ffconcat version 1.0\nfile ${clips.girl}\n`);
  writeFileSync(f('list.mp4'), `#EXTM3U\n#EXTINF:2,\n${clips.girl}\n`);
  writeFileSync(f('truncated.mp4'), readFileSync(clips.girl).subarray(0, 3000));
  await ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=4160x64:d=0.2:r=5', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', f('huge.mp4')]);
  await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=1', f('song.mp4')]);
});
afterAll(() => tmp.remove());

const refusal = (file: string, limits = defaultLimits) => rejection(probeVideo(file, limits));

describe('probeVideo on real files', () => {
  it('reads a portrait clip with music', async () => {
    const info = await probeVideo(clips.musepose);
    expect(info).toMatchObject({ width: 1080, height: 1920, fps: 24, audio: { codec: 'aac' } });
    expect(info.durationS).toBeCloseTo(12, 0);
  });

  it('reads a clip without audio', async () => {
    const info = await probeVideo(clips.girl);
    expect(info).toMatchObject({ width: 512, height: 512, fps: 4, audio: null });
  });

  it.each([
    ['missing.mp4', 'INPUT_MISSING'],
    ['notes.mp4', 'NOT_A_VIDEO'],
    ['empty.mp4', 'NOT_A_VIDEO'],
    ['song.mp4', 'NOT_A_VIDEO'],
    ['truncated.mp4', 'CORRUPT'],
    ['concat.mp4', 'UNSUPPORTED'],
    ['list.mp4', 'UNSUPPORTED'],
    ['huge.mp4', 'TOO_LARGE'],
  ])('refuses %s with %s', async (name, code) => {
    const err = await refusal(f(name));
    expect(err.code).toBe(code);
    expect(err.message).toContain(name);
  });

  it('refuses a still image', async () => {
    expect((await refusal(clips.officeJpg)).code).toBe('NOT_A_VIDEO');
  });

  it('refuses a video over the configured length, saying both figures', async () => {
    const err = await refusal(clips.girl, { ...defaultLimits, maxDurationS: 1 });
    expect(err.code).toBe('TOO_LONG');
    expect(err.params).toMatchObject({ maxS: 1, durationS: 2 });
  });
});

describe('interpretProbe (pure)', () => {
  const base = {
    streams: [{ index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, avg_frame_rate: '30000/1001', r_frame_rate: '30000/1001' }],
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '5.0' },
  };
  it('swaps the size of a clip recorded rotated', () => {
    const raw = structuredClone(base);
    (raw.streams[0] as Record<string, unknown>).side_data_list = [{ rotation: -90 }];
    expect(interpretProbe('x', raw, defaultLimits)).toMatchObject({ width: 1080, height: 1920 });
  });
  it('caps the frame rate at 60', () => {
    const raw = structuredClone(base);
    raw.streams[0].avg_frame_rate = '120/1';
    expect(interpretProbe('x', raw, defaultLimits)).toMatchObject({ fps: 60, fpsRational: '60' });
  });
  it('ignores cover art when looking for the video', () => {
    const raw = { streams: [{ index: 0, codec_type: 'video', codec_name: 'mjpeg', width: 300, height: 300, disposition: { attached_pic: 1 } }, { index: 1, codec_type: 'audio', codec_name: 'mp3' }], format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '100' } };
    expect(() => interpretProbe('x', raw, defaultLimits)).toThrow(/no video stream/);
  });
  it('refuses zero frames', () => {
    const raw = structuredClone(base);
    (raw.streams[0] as Record<string, unknown>).nb_frames = '0';
    expect(() => interpretProbe('x', raw, defaultLimits)).toThrow(expect.objectContaining({ code: 'NO_FRAMES' }));
  });
  it('names the refused demuxer', () => {
    const err = classifyProbeFailure('x', "[image2 @ 0x1] Format not on whitelist 'mov'\n", Buffer.from('\x89PNG'));
    expect(err.code).toBe('NOT_A_VIDEO');
  });
});

describe('planNormalize (pure)', () => {
  it('caps the shorter side of a portrait 1080x1920 clip at 720 and keeps sizes even', () => {
    expect(planNormalize({ width: 1080, height: 1920, fps: 24, fpsRational: '24/1', durationS: 12 }, 720)).toMatchObject({ width: 720, height: 1280, expectedFrames: 288 });
  });
  it('never scales up, and rounds odd sizes to even', () => {
    expect(planNormalize({ width: 203, height: 301, fps: 25, fpsRational: '25/1', durationS: 1 }, 720)).toMatchObject({ width: 204, height: 302 });
  });
  it('reads user files through the file protocol only', () => {
    const args = decodeArgs('/videos/http:evil.mp4', { width: 2, height: 2, fps: 1, fpsRational: '1', expectedFrames: 1 });
    expect(args).toContain('file:/videos/http:evil.mp4');
    expect(args.join(' ')).toContain('-protocol_whitelist file');
  });
});
