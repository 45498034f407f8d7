import { describe, expect, it } from 'vitest';
import { summarizeProgress } from '../src/queue/progress.js';
import { afterOutOfMemory } from '../src/queue/retry.js';
import { parseCommand } from '../src/cli/args.js';
import type { Progress, StageName } from '../src/pipeline/types.js';

const states = (list: Progress[]) => new Map<StageName, Progress>(list.map((p) => [p.stage, p]));

describe('summarizeProgress', () => {
  it('shows the first unfinished stage after decoding, with its speed and an ETA from the slowest stage', () => {
    const p = summarizeProgress(
      states([
        { stage: 'decode', done: 100, total: 100, fps: 90 },
        { stage: 'upscale', done: 41, total: 100, fps: 18 },
        { stage: 'matte', done: 30, total: 100, fps: 10 },
        { stage: 'compose', done: 20, total: 100, fps: 60 },
      ]),
    );
    expect(p).toEqual({ stage: 'upscale', percent: 41, fps: 18, etaS: 8 });
  });
  it('moves on to matting and encoding as the stages finish', () => {
    expect(summarizeProgress(states([{ stage: 'upscale', done: 100, total: 100, fps: 20 }, { stage: 'matte', done: 50, total: 100, fps: 10 }])).stage).toBe('matte');
    expect(
      summarizeProgress(states([{ stage: 'upscale', done: 100, total: 100, fps: 20 }, { stage: 'matte', done: 100, total: 100, fps: 10 }, { stage: 'compose', done: 99, total: 100, fps: 50 }])),
    ).toMatchObject({ stage: 'compose', percent: 99 });
  });
  it('starts at decode with no ETA', () => {
    expect(summarizeProgress(new Map())).toEqual({ stage: 'decode', percent: 0, fps: 0, etaS: null });
  });
});

describe('afterOutOfMemory', () => {
  it('steps the realesrgan tile down, then falls back to the CPU upscaler, saying so', () => {
    let o = afterOutOfMemory({ keepCutout: false });
    expect(o.options.tile).toBe(256);
    o = afterOutOfMemory(o.options);
    expect(o.options.tile).toBe(128);
    o = afterOutOfMemory(o.options);
    expect(o.options.tile).toBe(64);
    o = afterOutOfMemory(o.options);
    expect(o.options).toMatchObject({ upscaler: 'ffmpeg', tile: undefined });
    expect(o.note).toMatch(/CPU upscaler/);
  });
});

describe('service commands', () => {
  it('parses submit, jobs and cancel', () => {
    expect(parseCommand(['submit', 'a.mp4', '--bg', 'night', '--scale', '4', '--wait', '--json'])).toMatchObject({ kind: 'submit', file: 'a.mp4', opts: { bg: 'night', scale: 4, wait: true, json: true } });
    expect(() => parseCommand(['submit'])).toThrow(/exactly one video/);
    expect(parseCommand(['jobs', '--json'])).toMatchObject({ kind: 'jobs', json: true });
    expect(parseCommand(['cancel', 'abc', 'def'])).toMatchObject({ kind: 'cancel', ids: ['abc', 'def'] });
    expect(() => parseCommand(['cancel'])).toThrow(/needs a job id/);
    expect(parseCommand(['start'])).toMatchObject({ kind: 'start' });
  });
});
