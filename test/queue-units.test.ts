import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('classifyFailure', async () => {
  const { classifyFailure } = await import('../src/queue/failure.js');
  const { PipelineError } = await import('../src/errors.js');
  const { UnsafePathError } = await import('../src/storage/storage.js');
  const { enhanceJobSchema } = await import('../src/queue/jobs.js');

  it('makes schema-invalid data, a refused path and a full disk final, with codes of their own', () => {
    const zod = enhanceJobSchema.safeParse({ input: { file: 42 } });
    expect(zod.success).toBe(false);
    if (!zod.success) expect(classifyFailure(zod.error)).toMatchObject({ retryable: false, error: { code: 'JOB_DATA_INVALID' } });
    expect(classifyFailure(new UnsafePathError('../x', '/data/inputs'))).toMatchObject({ retryable: false, error: { code: 'INPUT_REFUSED' } });
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(classifyFailure(enospc)).toMatchObject({ retryable: false, error: { code: 'DISK_FULL' } });
    // A tool that ran out of space is wrapped as TOOL_FAILED by the pipeline: still final.
    const tool = new PipelineError('TOOL_FAILED', 'ffmpeg failed', { tool: 'ffmpeg', detail: 'Error writing trailer: No space left on device' });
    expect(classifyFailure(tool)).toMatchObject({ retryable: false, error: { code: 'DISK_FULL' } });
    const caused = new PipelineError('TOOL_FAILED', 'write failed', {}, { cause: enospc });
    expect(classifyFailure(caused).error.code).toBe('DISK_FULL');
  });

  it('makes a missing model final: an offline host cannot fetch it by trying again', () => {
    const missing = new PipelineError('MODEL_MISSING', 'RVM model not found: /models/rvm_resnet50_fp32.onnx', { path: '/models/rvm_resnet50_fp32.onnx' });
    expect(classifyFailure(missing)).toMatchObject({ retryable: false, error: { code: 'MODEL_MISSING', params: { path: '/models/rvm_resnet50_fp32.onnx' } } });
  });

  it('keeps pipeline codes and their retryability; anything else is a retryable TOOL_FAILED', () => {
    expect(classifyFailure(new PipelineError('NOT_A_VIDEO', 'no'))).toMatchObject({ retryable: false, error: { code: 'NOT_A_VIDEO' } });
    expect(classifyFailure(new PipelineError('GPU_OUT_OF_MEMORY', 'oom'))).toMatchObject({ retryable: true, error: { code: 'GPU_OUT_OF_MEMORY' } });
    expect(classifyFailure(new Error('segfault'))).toMatchObject({ retryable: true, error: { code: 'TOOL_FAILED', params: { detail: 'segfault' } } });
  });
});

describe('createOutageLog', async () => {
  const { createOutageLog } = await import('../src/redis/outage.js');
  const { EventEmitter } = await import('node:events');
  const sink = () => {
    const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
    const at = (level: string) => (obj: Record<string, unknown>, msg: string) => void lines.push({ level, obj, msg });
    return { lines, log: { error: at('error'), warn: at('warn'), info: at('info') } as never };
  };

  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('logs one line per outage however many parts retry, and one when it is back', () => {
    const { lines, log } = sink();
    let t = 1000;
    const outage = createOutageLog(log, () => t);
    const worker = outage.watch('worker', new EventEmitter());
    const queue = outage.watch('queue', new EventEmitter());
    outage.ready(); // nothing was down
    for (let i = 0; i < 500; i++) {
      worker.emit('error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' }));
      queue.emit('error', new Error('Connection is closed.'));
    }
    expect(outage.down).toBe(true);
    t = 13_500;
    outage.ready();
    outage.ready();
    vi.advanceTimersByTime(1000);
    expect(lines.map((l) => [l.level, l.obj.component ?? null, l.msg])).toEqual([
      ['error', 'worker', 'Redis unreachable: jobs wait until it is back (retrying)'],
      ['info', null, 'Redis reconnected after 12.5 s'],
    ]);
    // A second outage is a second line.
    queue.emit('error', new Error('read ECONNRESET'));
    expect(lines).toHaveLength(3);
  });

  it('a connection ready just as Redis died (an error follows within the settling time) does not end the outage', () => {
    const { lines, log } = sink();
    const outage = createOutageLog(log);
    const worker = outage.watch('worker', new EventEmitter());
    worker.emit('error', new Error('read ECONNRESET'));
    outage.ready();
    vi.advanceTimersByTime(200);
    worker.emit('error', new Error('connect ECONNREFUSED 127.0.0.1:6390'));
    vi.advanceTimersByTime(5000);
    expect(outage.down).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['Redis unreachable: jobs wait until it is back (retrying)']);
    // Back for good: one line, after the settling time.
    outage.ready();
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1000);
    expect(outage.down).toBe(false);
    expect(lines.map((l) => l.msg)[1]).toMatch(/^Redis reconnected after/);
  });

  it('logs errors that are not about the connection each time', () => {
    const { lines, log } = sink();
    const w = createOutageLog(log).watch('worker', new EventEmitter());
    w.emit('error', new Error('Missing lock for job j1. moveToFinished'));
    w.emit('error', new Error('Missing lock for job j2. moveToFinished'));
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
  });
});

describe('done-marker', async () => {
  const { mkdtempSync, rmSync, writeFileSync, readdirSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { readDoneMarker, writeDoneMarker } = await import('../src/queue/done-marker.js');
  const { sampleResult } = await import('./helpers/fixtures.js');

  it('says an output is complete only for its own job, at the recorded size, with its cut-out', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-marker-'));
    try {
      const out = path.join(dir, 'j1.enhanced.mp4');
      const cut = path.join(dir, 'j1.cutout.mkv');
      expect(await readDoneMarker(out, 'j1')).toBeNull();
      writeFileSync(out, Buffer.alloc(1000));
      expect(await readDoneMarker(out, 'j1')).toBeNull(); // written, but not said to be complete
      await writeDoneMarker(out, 'j1', sampleResult);
      expect(readdirSync(dir).sort()).toEqual(['j1.enhanced.mp4', 'j1.enhanced.mp4.done.json']); // no temp file left
      expect(await readDoneMarker(out, 'j1')).toEqual(sampleResult);
      expect(await readDoneMarker(out, 'j2')).toBeNull();
      expect(await readDoneMarker(out, 'j1', [cut])).toBeNull();
      writeFileSync(out, Buffer.alloc(999)); // truncated since
      expect(await readDoneMarker(out, 'j1')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
