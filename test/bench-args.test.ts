import { describe, expect, it } from 'vitest';
import { BenchArgsError, DEFAULT_CLIP, parseBenchArgs } from '../src/bench/args.js';
import { inputArgs, inputName } from '../src/bench/input.js';

describe('bench arguments', () => {
  it('defaults to a 30 s clip, 3 runs and the 10 s growth check', () => {
    expect(parseBenchArgs([])).toEqual({ clip: DEFAULT_CLIP, seconds: 30, shortSeconds: 10, runs: 3, width: 64, height: 112, fps: 6, quick: false, write: false, render: null });
  });

  it('--quick shortens both clips; explicit values still win', () => {
    const q = parseBenchArgs(['--quick']);
    expect(q).toMatchObject({ quick: true, seconds: 3, shortSeconds: 1.5, fps: 4, runs: 3 });
    expect(parseBenchArgs(['--quick', '--seconds', '6'])).toMatchObject({ seconds: 6, shortSeconds: 1.5 });
  });

  it('takes --clip, --size, --fps, --runs, in both spellings', () => {
    expect(parseBenchArgs(['--clip', 'a.mp4', '--size=540x960', '--fps', '24', '--runs=5'])).toMatchObject({ clip: 'a.mp4', width: 540, height: 960, fps: 24, runs: 5 });
  });

  it('refuses what it cannot measure honestly', () => {
    expect(() => parseBenchArgs(['--runs', '2'])).toThrow(/at least 3/);
    expect(() => parseBenchArgs(['--seconds', '0'])).toThrow(BenchArgsError);
    expect(() => parseBenchArgs(['--seconds', '5', '--short', '5'])).toThrow(/below/);
    expect(() => parseBenchArgs(['--size', '63x112'])).toThrow(/even/);
    expect(() => parseBenchArgs(['--size', 'big'])).toThrow(/WxH/);
    expect(() => parseBenchArgs(['--clip'])).toThrow(/file/);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(/unknown option/);
  });
});

describe('standard input', () => {
  const spec = { clip: '/m/dance.mp4', seconds: 30, width: 64, height: 112, fps: 6 };

  it('is cached under a name that says what it is', () => {
    expect(inputName(spec)).toBe('dance-64x112-6fps-30s.mp4');
  });

  it('loops the clip to length, covers the frame without stretching, keeps the audio', () => {
    const a = inputArgs(spec, 'out.mp4');
    expect(a.slice(a.indexOf('-stream_loop'), a.indexOf('-stream_loop') + 2)).toEqual(['-stream_loop', '-1']);
    expect(a[a.indexOf('-t') + 1]).toBe('30');
    expect(a[a.indexOf('-vf') + 1]).toBe('scale=64:112:force_original_aspect_ratio=increase:flags=area,crop=64:112,setsar=1,fps=6');
    expect(a).toContain('aac');
    expect(a.at(-1)).toBe('out.mp4');
  });
});

describe('bench --render', () => {
  it('needs a file and runs nothing else', () => {
    expect(parseBenchArgs(['--render', 'bench/latest.json']).render).toBe('bench/latest.json');
    expect(() => parseBenchArgs(['--render'])).toThrow(/JSON file/);
  });
});
