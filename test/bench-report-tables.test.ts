import { describe, expect, it } from 'vitest';
import { fmtBytes, mdTable, renderMarkdown, renderText, textTable, verdict, type BenchReport } from '../src/bench/report-tables.js';
import { analyse } from '../src/bench/analysis.js';
import { summarise, type SideSample } from '../src/bench/stats.js';

const st = (name: string, seconds: number) => ({ name, seconds, frames: 180, engine: `${name}-engine`, device: 'cpu' });
const side = (wallS: number, peakTempBytes: number, names: string[]): SideSample => ({ wallS, peakTempBytes, peakRssBytes: 300 * 2 ** 20, stages: names.map((n) => st(n, wallS / names.length)) });
const stages = ['decode', 'upscale', 'matte', 'compose'];
const refSteps = ['extract', 'realesrgan', 'encode', 'matte-file', 'overlay'];

function report(gpu = false): BenchReport {
  const run = { pipeline: side(100, 2 * 2 ** 20, stages), alone: [st('decode', 2), st('upscale', 90), st('matte', 10), st('compose', 3)], reference: side(120, 40 * 2 ** 20, refSteps) };
  return {
    summary: summarise([run, run, run], 30, 180, [side(35, 2 * 2 ** 20, stages)], 10),
    input: { clip: 'dance.mp4', seconds: 30, width: 64, height: 112, fps: 6, frames: 180, outWidth: 128, outHeight: 224, audio: true },
    machine: { cpu: 'AMD EPYC', cores: 2, memoryBytes: 24 * 2 ** 30, os: 'Linux', node: '20', vulkan: 'llvmpipe (PHYSICAL_DEVICE_TYPE_CPU)', upscaleDevice: 'llvmpipe', matteDevice: 'onnxruntime cpu', onnxUpscaleDevice: null, gpu },
    chunkFrames: 16,
    onnxSkipped: 'no tools/realesrgan/onnx/*.onnx',
    quick: false,
    sharedMachine: true,
    cpuAccount: { benchCpuS: 500, otherCpuS: 200 },
    date: '2025-01-01 00:00 UTC',
    benchWallS: 1500,
  };
}

describe('bench rendering', () => {
  it('formats sizes and verdicts', () => {
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(300 * 2 ** 20)).toBe('300 MiB');
    expect(verdict(0.6, 0.7)).toBe('met');
    expect(verdict(0.8, 0.7)).toBe('MISSED');
    expect(verdict(1.6, 1.5, false)).toBe('met');
    expect(verdict(Number.NaN, 1)).toBe('n/a');
  });

  it('aligns text columns and escapes markdown cells', () => {
    expect(textTable(['a', 'n'], [['long name', '1.5'], ['x', '10.25']], [false, true]).split('\n')).toEqual([
      'a              n',
      '---------  -----',
      'long name    1.5',
      'x          10.25',
    ]);
    expect(mdTable(['a|b', 'n'], [['x', '1']], [false, true])).toBe('| a\\|b | n |\n| --- | ---: |\n| x | 1 |');
  });

  it('prints every figure the issue asks for, with the input and the machine', () => {
    const text = renderText(report());
    for (const needle of [
      '64x112 at 6 fps, 180 frames', 'runs: 3', 'AMD EPYC, 2 cores', 'llvmpipe', 'onnxruntime cpu', 'onnx upscaler: skipped',
      'sum of the four stages alone', 'realtime factor', 'peak temp disk', 'peak memory (RSS',
      'wall time dancelift / reference (same engines)', '0.83', 'overlap efficiency', '1.05', 'reported (no GPU)',
      '2.0 MiB → 2.0 MiB', '200 CPU-s by other processes',
    ]) expect(text).toContain(needle);
  });

  it('judges the overlap target only on a GPU', () => {
    expect(renderText(report(true))).toMatch(/overlap efficiency.*MISSED/);
  });

  it('writes the same tables to BENCHMARKS.md, with the analysis', () => {
    const r = report();
    const md = renderMarkdown(r, analyse(r));
    expect(md).toMatch(/^# Benchmarks/);
    expect(md).toContain('| wall time dancelift / reference (same engines) | 0.83 | ≤ 0.7 | MISSED |');
    expect(md).toContain('## What the figures say');
    expect(md).toContain('per extra call');
  });
});

describe('temp growth verdict', () => {
  it('is not judged when the short clip is under one chunk', async () => {
    const { summarise } = await import('../src/bench/stats.js');
    const tiny = (peak: number, frames: number): SideSample => ({ wallS: 1, peakTempBytes: peak, peakRssBytes: 1, stages: [{ ...st('decode', 1), frames }] });
    const run = { pipeline: tiny(800, 12), alone: [], reference: tiny(1600, 12) };
    const r = { ...report(), summary: summarise([run, run, run], 3, 12, [tiny(400, 6)], 1.5) };
    expect(renderText(r)).toContain('n/a (6 frames < 1 chunk)');
  });
});
