import { describe, expect, it } from 'vitest';
import {
  displayWidth,
  formatBytes,
  formatProgressLine,
  formatSummary,
  formatTimingTable,
  jsonResultLine,
  roundTo,
} from '../src/cli/run-output.js';
import { PipelineError } from '../src/errors.js';
import type { Progress, RunStats } from '../src/pipeline/types.js';

const stats: RunStats = {
  stages: [
    { name: 'decode', seconds: 0.81234, fps: 118.23456, frames: 96, engine: 'ffmpeg', device: 'cpu' },
    {
      name: 'upscale',
      seconds: 10.4201,
      fps: 9.2131,
      frames: 96,
      engine: 'realesrgan-ncnn-vulkan realesr-animevideov3-x2',
      device: 'llvmpipe (LLVM 15.0.6, 256 bits)',
    },
    {
      name: 'matte',
      seconds: 6.1,
      fps: 15.737704,
      frames: 96,
      engine: 'rvm (onnxruntime)',
      device: 'onnxruntime cpu',
      fallbackFrom: 'cuda: libonnxruntime_providers_cuda.so missing; webgpu: no adapter',
    },
    { name: 'compose', seconds: 2.0031, fps: 47.926, frames: 96, engine: 'libx264', device: 'cpu' },
  ],
  totalS: 10.95,
  realtimeFactor: 10.95 / 24,
  peakTempBytes: 12.5 * 1024 * 1024,
};

describe('formatTimingTable', () => {
  const table = formatTimingTable({ stats, durationS: 24, width: 1440, height: 2560, output: 'out/girl.mp4' });

  it('has a row per stage with seconds, fps, share, engine and device', () => {
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^stage\s+seconds\s+fps\s+share¹?\s+engine\s+device$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!;
    expect(row('decode')).toMatch(/decode\s+0\.81\s+118\.23\s+7 %\s+ffmpeg\s+cpu/);
    expect(row('upscale')).toMatch(/upscale\s+10\.42\s+9\.21\s+95 %\s+realesrgan-ncnn-vulkan realesr-animevideov3-x2\s+llvmpipe \(LLVM 15\.0\.6, 256 bits\)/);
    expect(row('matte')).toMatch(/matte\s+6\.10\s+15\.74\s+56 %\s+rvm \(onnxruntime\) ²\s+onnxruntime cpu/);
    expect(row('compose')).toMatch(/compose\s+2\.00\s+47\.93\s+18 %\s+libx264\s+cpu/);
    // Columns line up: every row's device starts at the same column as the header's.
    const col = lines[0].indexOf('device');
    for (const n of ['decode', 'upscale', 'compose']) expect(row(n).indexOf(n === 'upscale' ? 'llvmpipe' : 'cpu')).toBe(col);
  });

  it('gives the total, the realtime factor explained, the output and the overlap footnote', () => {
    expect(table).toMatch(/total\s+10\.95 s for a 24\.00 s video: 0\.46x realtime \(processing time \/ video duration; below 1x is faster than real time\)/);
    expect(table).toMatch(/output\s+out\/girl\.mp4 \(1440x2560\)/);
    expect(table).toMatch(/peak temp\s+13 MiB/);
    expect(table).toMatch(/shares can add up to more than 100 %/);
    expect(table).toMatch(/² matte fell back: cuda: libonnxruntime_providers_cuda\.so missing; webgpu: no adapter/);
  });

  it('computes the factor when the stats lack it, and survives a zero duration', () => {
    const t = formatTimingTable({ stats: { ...stats, realtimeFactor: NaN }, durationS: 5, width: 2, height: 2, output: 'o.mp4' });
    expect(t).toContain('2.19x realtime');
    const z = formatTimingTable({ stats: { ...stats, realtimeFactor: NaN }, durationS: 0, width: 2, height: 2, output: 'o.mp4' });
    expect(z).toContain('realtime factor unknown');
  });
});

describe('formatProgressLine', () => {
  const states: Progress[] = [
    { stage: 'upscale', done: 20, total: 100, fps: 12.34 },
    { stage: 'decode', done: 40, total: 100, fps: 0 },
    { stage: 'matte', done: 0, total: 100, fps: 0 },
  ];

  it('shows a bar, count and fps per stage in pipeline order', () => {
    const line = formatProgressLine(states, 120);
    expect(line).toMatch(/^decode [█░]+ 40\/100 {2}upscale [█░]+ 20\/100 12 fps {2}matte ░+ 0\/100$/);
    expect(line).not.toContain('\n');
    expect(displayWidth(line)).toBeLessThan(120);
    const decodeBar = /decode ([█░]+)/.exec(line)![1];
    expect(decodeBar.split('█').length - 1).toBe(Math.round(decodeBar.length * 0.4));
  });

  it('fits narrow terminals', () => {
    for (const width of [80, 60, 40, 20]) {
      const line = formatProgressLine(states, width);
      expect(displayWidth(line), `width ${width}`).toBeLessThan(width);
    }
    expect(formatProgressLine(states, 80)).toContain('█');
  });

  it('handles unknown totals and no states', () => {
    expect(formatProgressLine([{ stage: 'decode', done: 7, total: 0, fps: 3 }])).toMatch(/^decode ░+ 7 3\.0 fps$/);
    // fps of finished stages go before the bars get too small
    const busy: Progress[] = [
      { stage: 'decode', done: 100, total: 100, fps: 300 },
      { stage: 'upscale', done: 20, total: 100, fps: 12.34 },
      { stage: 'matte', done: 10, total: 100, fps: 8 },
      { stage: 'compose', done: 5, total: 100, fps: 4 },
    ];
    expect(formatProgressLine(busy, 100)).toMatch(/12 fps.*8\.0 fps.*4\.0 fps$/);
    expect(formatProgressLine(busy, 90)).toMatch(/^decode [█]+ 100\/100 {2}upscale/);
    expect(formatProgressLine([])).toBe('');
  });
});

describe('jsonResultLine', () => {
  it('is one JSON line with exactly the keys, in order, rounded', () => {
    const line = jsonResultLine({ input: 'in/girl.mp4', output: 'out/girl.mp4', ok: true, durationS: 24.000001, width: 1440, height: 2560, stats });
    expect(line).not.toContain('\n');
    const obj = JSON.parse(line);
    expect(Object.keys(obj)).toEqual(['input', 'output', 'ok', 'durationS', 'width', 'height', 'stats']);
    expect(Object.keys(obj.stats)).toEqual(['stages', 'totalS', 'realtimeFactor']);
    expect(obj.stats.stages.map((s: object) => Object.keys(s))).toEqual([
      ['name', 'seconds', 'fps', 'engine', 'device'],
      ['name', 'seconds', 'fps', 'engine', 'device'],
      ['name', 'seconds', 'fps', 'engine', 'device', 'fallbackFrom'],
      ['name', 'seconds', 'fps', 'engine', 'device'],
    ]);
    expect(obj).toMatchObject({ input: 'in/girl.mp4', output: 'out/girl.mp4', ok: true, durationS: 24, width: 1440, height: 2560 });
    expect(obj.stats.stages[0]).toEqual({ name: 'decode', seconds: 0.812, fps: 118.23, engine: 'ffmpeg', device: 'cpu' });
    expect(obj.stats.totalS).toBe(10.95);
    expect(obj.stats.realtimeFactor).toBe(0.456);
  });

  it('a failed input has its error, a null output and null stats', () => {
    const line = jsonResultLine({ input: 'in/bad.txt', output: null, ok: false, error: 'This is not a video file.', durationS: null, width: null, height: null, stats: null });
    const obj = JSON.parse(line);
    expect(Object.keys(obj)).toEqual(['input', 'output', 'ok', 'error', 'durationS', 'width', 'height', 'stats']);
    expect(obj).toEqual({ input: 'in/bad.txt', output: null, ok: false, error: 'This is not a video file.', durationS: null, width: null, height: null, stats: null });
  });

  it('words an error object, and drops output/stats of a failure whatever was passed', () => {
    const obj = JSON.parse(
      jsonResultLine({ input: 'x', output: 'y', ok: false, error: new PipelineError('CANCELLED', 'c'), durationS: 3, width: 2, height: 2, stats }),
    );
    expect(obj.error).toBe('Cancelled.');
    expect(obj.output).toBeNull();
    expect(obj.stats).toBeNull();
  });

  it('keeps odd characters on one line', () => {
    const line = jsonResultLine({ input: 'a\nb\u2028c "d".mp4', output: null, ok: false, error: 'x\ny', durationS: null, width: null, height: null });
    expect(line.split('\n')).toHaveLength(1);
    expect(JSON.parse(line).input).toBe('a\nb\u2028c "d".mp4');
  });
});

describe('formatSummary', () => {
  it('counts and lists failures with reasons', () => {
    const s = formatSummary([
      { input: 'a.mp4', ok: true },
      { input: 'b.mp4', ok: true },
      { input: 'c.txt', ok: false, error: 'This is not a video file.' },
      { input: 'd.mp4', ok: true },
      { input: 'e.mp4', ok: false, error: new PipelineError('TOO_LONG', 'x', { durationS: 900, maxS: 600 }) },
    ]);
    expect(s.split('\n')).toEqual([
      '3 done, 2 failed:',
      '  ✘ c.txt: This is not a video file.',
      '  ✘ e.mp4: The video is too long (15 min): the limit is 10 min.',
    ]);
  });

  it('says all done when nothing failed, in either language', () => {
    expect(formatSummary([{ input: 'a', ok: true }])).toBe('1 done.');
    expect(formatSummary([{ input: 'a', ok: true }, { input: 'b', ok: false, error: new PipelineError('CANCELLED', 'c') }], 'zh')).toBe(
      '1 个完成，1 个失败：\n  ✘ b: 已取消。',
    );
  });
});

describe('helpers', () => {
  it('rounds and formats', () => {
    expect(roundTo(1.23456, 3)).toBe(1.235);
    expect(roundTo(NaN, 2)).toBeNull();
    expect(roundTo(-0.0001, 2)).toBe(0);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(displayWidth('抠像ab')).toBe(6);
  });
});
