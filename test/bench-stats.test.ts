import { describe, expect, it } from 'vitest';
import { median, medianStages, ratio, startupShare, summarise, type RunSample, type SideSample, type StageSample } from '../src/bench/stats.js';
import { perCallOverheadS } from '../src/bench/analysis.js';
import { parentOf, treeOf } from '../src/bench/sample.js';
import { machineBusySeconds, selfAndChildrenSeconds } from '../src/bench/machine.js';

const st = (name: string, seconds: number, frames = 60) => ({ name, seconds, frames, engine: 'e', device: 'd' });
const side = (wallS: number, peakTempBytes: number, stages: StageSample[] = [st('decode', 1), st('upscale', 10), st('matte', 3), st('compose', 1)]): SideSample => ({ wallS, peakTempBytes, peakRssBytes: 100, stages });

describe('bench maths', () => {
  it('median of odd and even counts, not disturbed by one outlier', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 11, 500])).toBe(11);
    expect(() => median([])).toThrow(RangeError);
  });

  it('a ratio over zero is n/a, not infinity', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(1, 0)).toBeNaN();
  });

  it('medians each stage by name, fps from the median seconds', () => {
    const m = medianStages([[st('a', 2), st('b', 4)], [st('b', 6), st('a', 3)], [st('a', 4), st('b', 5)]]);
    expect(m.map((s) => [s.name, s.seconds, s.fps])).toEqual([['a', 3, 20], ['b', 5, 12]]);
  });

  it('summarises runs into the issue\'s figures', () => {
    const alone = [st('decode', 1), st('upscale', 20), st('upscale-onnx', 2), st('matte', 4), st('compose', 1)];
    const run = (p: number, r: number): RunSample => ({ pipeline: side(p, 1000), alone, reference: side(r, 100_000) });
    const s = summarise([run(20, 30), run(22, 40), run(21, 35)], 30, 180, [side(9, 900), side(8, 1100), side(10, 1000)], 10);
    expect(s.runs).toBe(3);
    expect(s.dancelift.wallS).toBe(21);
    expect(s.reference.wallS).toBe(35);
    expect(s.wallRatio).toBeCloseTo(0.6);
    expect(s.dancelift.realtimeFactor).toBeCloseTo(0.7);
    expect(s.tempDiskRatio).toBeCloseTo(0.01);
    // upscale-onnx is shown beside the ncnn upscaler, not added to the pipeline's four stages
    expect(s.aloneSumS).toBe(26);
    expect(s.overlapEfficiency).toBeCloseTo(26 / 21);
    expect(s.onnx).toBeNull();
    expect(s.onnxWallRatio).toBeNull();
    expect(s.short).toEqual({ durationS: 10, runs: 3, frames: 60, peakTempBytes: 1000, wallS: 9 });
  });

  it('includes the onnx side only when every run has it', () => {
    const base: RunSample = { pipeline: side(20, 1), alone: [], reference: side(40, 2) };
    expect(summarise([{ ...base, onnxPipeline: side(10, 1) }, base, base], 30, 1).onnx).toBeNull();
    const all = summarise([1, 2, 3].map(() => ({ ...base, onnxPipeline: side(10, 1) })), 30, 1);
    expect(all.onnxWallRatio).toBeCloseTo(0.25);
  });

  it('estimates what each extra realesrgan call costs', () => {
    expect(perCallOverheadS(50, 30, 11)).toBe(2);
    expect(perCallOverheadS(50, 30, 1)).toBeNaN();
  });
});

describe('/proc parsing', () => {
  it('reads the parent pid even when the command name has spaces and parentheses', () => {
    expect(parentOf('1234 (my (odd) prog) S 77 1234 1234 0 -1')).toBe(77);
    expect(parentOf('garbage')).toBeNull();
  });

  it('collects a process tree', () => {
    const parents = new Map([[2, 1], [3, 2], [4, 2], [5, 9], [6, 4]]);
    expect(treeOf(1, parents).sort()).toEqual([1, 2, 3, 4, 6]);
  });

  it('counts busy CPU time, machine-wide and for a process with its children', () => {
    expect(machineBusySeconds('cpu  100 0 50 1000 20 0 10 0 0 0\ncpu0 1 2 3')).toBe(1.6);
    const stat = '42 (node) S 1 42 42 0 -1 4194560 1 0 0 0 300 100 50 50 20 0 1';
    expect(selfAndChildrenSeconds(stat)).toBe(5);
  });
});

describe('temp ratio at a real frame rate', () => {
  it('falls as one over the frame count', async () => {
    const { projectedTempRatio } = await import('../src/bench/analysis.js');
    // 1 MB held by dancelift, 10 MB by the reference for 100 frames → 100 kB a frame
    expect(projectedTempRatio(1e6, 1e7, 100, 720)).toBeCloseTo(1 / 72);
  });
});

describe('the binary start-up share', () => {
  const calls = (startupS: number, callS: number) => ({ calls: 2, frames: 90, startupS, callS, framesPerCall: 64, peakCallTempBytes: 1 });
  const withCalls = (startupS: number, callS: number): SideSample => side(20, 1000, [st('decode', 1), { ...st('upscale', 10), calls: calls(startupS, callS) }, st('matte', 3), st('compose', 1)]);

  it('is the calls\' start-up over their wall time, median over the pipeline runs', () => {
    expect(startupShare(withCalls(2, 100).stages)).toBeCloseTo(0.02);
    const runs: RunSample[] = [withCalls(2, 100), withCalls(9, 100), withCalls(4, 100)].map((pipeline) => ({ pipeline, alone: [], reference: side(30, 1) }));
    expect(summarise(runs, 30, 90).ncnnStartupShare).toBeCloseTo(0.04);
  });

  it('is null when no engine ran in calls (onnx or lanczos upscaler)', () => {
    expect(startupShare(side(1, 1).stages)).toBeNull();
    expect(summarise([{ pipeline: side(1, 1), alone: [], reference: side(2, 1) }], 30, 90).ncnnStartupShare).toBeNull();
  });
});
