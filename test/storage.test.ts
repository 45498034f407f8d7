import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceRefusal } from '../src/queue/limits.js';
import { createStorage, safeExtension, UnsafePathError, type Storage } from '../src/storage/storage.js';

let tmp: string;
let storage: Storage;
const HOUR = 3600 * 1000;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'dl-storage-'));
  storage = createStorage({ dataDir: path.join(tmp, 'data'), storage: { keepOutputsHours: 72, minFreeMb: 1 } });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('storage paths', () => {
  it('creates inputs/ and outputs/ under the data dir', () => {
    expect(storage.inputsDir).toBe(path.join(tmp, 'data', 'inputs'));
    expect(storage.outputsDir).toBe(path.join(tmp, 'data', 'outputs'));
    expect(existsSync(storage.inputsDir) && existsSync(storage.outputsDir)).toBe(true);
  });

  it('names inputs safely, keeping a sanitised extension, never the user name', () => {
    const a = storage.newInputPath('42', 'My Dance!.MP4');
    expect(a.rel).toMatch(/^42-[0-9a-f]{8}\.mp4$/);
    expect(a.abs).toBe(path.join(storage.inputsDir, a.rel));
    expect(storage.newInputPath('42', 'My Dance!.MP4').rel).not.toBe(a.rel);

    expect(storage.newInputPath('../../etc/passwd', '../../x.sh').rel).toMatch(/^etc_passwd-[0-9a-f]{8}\.sh$/);
    expect(storage.newInputPath('job:7', 'clip.mov; rm -rf').rel).toMatch(/^job_7-[0-9a-f]{8}$/);
    expect(storage.newInputPath('', 'noext').rel).toMatch(/^[0-9a-f-]{36}-[0-9a-f]{8}$/);
    expect(safeExtension('a.tar.gz')).toBe('.gz');
    expect(safeExtension('C:\\videos\\x.WebM')).toBe('.webm');
    expect(safeExtension('.mp4')).toBe('');
    expect(safeExtension('x.verylongextension')).toBe('');
  });

  it('names outputs by job, suffix and extension', () => {
    expect(storage.outputPathFor('42', 'enhanced', 'mp4')).toEqual({
      rel: '42.enhanced.mp4',
      abs: path.join(storage.outputsDir, '42.enhanced.mp4'),
    });
    expect(storage.outputPathFor('42', 'cutout', '.webm').rel).toBe('42.cutout.webm');
    expect(() => storage.outputPathFor('42', '../x', 'mp4')).toThrow(/bad output suffix/);
    expect(() => storage.outputPathFor('42', 'enhanced', 'mp4/..')).toThrow(/bad output extension/);
  });

  it('refuses relative paths that would leave their folder', () => {
    expect(storage.resolveOutput('42.enhanced.mp4')).toBe(path.join(storage.outputsDir, '42.enhanced.mp4'));
    expect(storage.resolveInput('sub/x.mp4')).toBe(path.join(storage.inputsDir, 'sub', 'x.mp4'));
    const bad = [
      '../inputs/x.mp4',
      '..',
      '.',
      '',
      'a/../../x',
      'a/../b',
      '/etc/passwd',
      path.join(storage.outputsDir, '42.enhanced.mp4'),
      '..\\..\\x',
      'a\0b',
      '.hidden',
      'a//b',
      'a/',
    ];
    for (const rel of bad) {
      expect(() => storage.resolveOutput(rel), rel).toThrow(UnsafePathError);
      expect(() => storage.resolveInput(rel), rel).toThrow(UnsafePathError);
    }
  });

  it('removes inputs idempotently, and refuses to remove outside inputs/', async () => {
    const { abs, rel } = storage.newInputPath('9', 'a.mp4');
    writeFileSync(abs, 'x');
    expect(await storage.removeInput(rel)).toBe(true);
    expect(existsSync(abs)).toBe(false);
    expect(await storage.removeInput(rel)).toBe(false);
    const outside = path.join(tmp, 'data', 'keep.txt');
    writeFileSync(outside, 'x');
    await expect(storage.removeInput('../keep.txt')).rejects.toThrow(UnsafePathError);
    expect(existsSync(outside)).toBe(true);
  });

  it("removes one job's outputs and nothing of another job's; a gone output has no size", async () => {
    const video = storage.outputPathFor('j1', 'enhanced', 'mp4');
    const webm = storage.outputPathFor('j1', 'alpha', 'webm');
    const other = storage.outputPathFor('j10', 'enhanced', 'mp4');
    for (const f of [video, webm, other]) writeFileSync(f.abs, 'xyz');
    writeFileSync(`${video.abs}.done.json`, '{}');
    expect(await storage.outputBytes(video.rel)).toBe(3);
    expect((await storage.removeOutputsOf('j1')).sort()).toEqual([webm.rel, video.rel, `${video.rel}.done.json`].sort());
    expect(await storage.outputBytes(video.rel)).toBeNull();
    expect(existsSync(other.abs)).toBe(true);
  });
});

describe('sweepOutputs', () => {
  it('removes only outputs older than keepOutputsHours (by mtime), inputs untouched', async () => {
    const now = Date.now();
    const put = (rel: string, ageH: number, dir = storage.outputsDir): string => {
      const abs = path.join(dir, rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, 'x'.repeat(10));
      const t = (now - ageH * HOUR) / 1000;
      utimesSync(abs, t, t);
      return abs;
    };
    const oldOut = put('1.enhanced.mp4', 73);
    const oldCut = put('1.cutout.webm', 100);
    const oldNested = put('shard/2.enhanced.mp4', 80);
    const fresh = put('3.enhanced.mp4', 71);
    const freshNew = put('4.enhanced.mp4', 0);
    const oldInput = put('5-aaaa.mp4', 500, storage.inputsDir);

    const removed = await storage.sweepOutputs(now);
    expect(removed.map((f) => f.rel).sort()).toEqual(['1.cutout.webm', '1.enhanced.mp4', 'shard/2.enhanced.mp4']);
    expect(removed.every((f) => f.bytes === 10)).toBe(true);
    for (const f of [oldOut, oldCut, oldNested]) expect(existsSync(f)).toBe(false);
    for (const f of [fresh, freshNew, oldInput]) expect(existsSync(f)).toBe(true);
    expect(await storage.sweepOutputs(now)).toEqual([]);
    // Two hours later the 71-hour-old one has expired too.
    expect((await storage.sweepOutputs(now + 2 * HOUR)).map((f) => f.rel)).toEqual(['3.enhanced.mp4']);
  });

  it('startSweeper sweeps at once and stops', async () => {
    const old = path.join(storage.outputsDir, '8.enhanced.mp4');
    writeFileSync(old, 'x');
    const t = (Date.now() - 1000 * HOUR) / 1000;
    utimesSync(old, t, t);
    const lines: string[] = [];
    const log = { info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m) };
    const sweeper = storage.startSweeper(60_000, log as never);
    await expect.poll(() => existsSync(old)).toBe(false);
    sweeper.stop();
    expect(lines.join('\n')).toMatch(/removed 1 expired output \(/);
  });
});

describe('disk space', () => {
  it('reports free bytes and accepts when there is room', async () => {
    const free = await storage.freeBytes();
    expect(free).toBeGreaterThan(1024 * 1024);
    await expect(storage.ensureFree(1000)).resolves.toBeUndefined();
  });

  it('refuses with DISK_FULL when minFreeMb is huge, with the numbers a message needs', async () => {
    const greedy = createStorage({ dataDir: path.join(tmp, 'data'), storage: { keepOutputsHours: 72, minFreeMb: 1e12 } });
    const err = await greedy.ensureFree(5 * 1024 * 1024).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceRefusal);
    const r = err as ServiceRefusal;
    expect(r.code).toBe('DISK_FULL');
    expect(r.params).toMatchObject({ limit: 1e12, neededMb: 1e12 + 5 });
    expect(r.params.freeMb).toBeGreaterThan(0);
    expect(r.message).toMatch(/short of disk space .* MB free, .* MB needed/);
    // Outputs exist (see above): it says when the oldest one expires and frees space.
    expect(r.retryAfterS).toBeGreaterThanOrEqual(60);
    expect(r.retryAfterS).toBeLessThanOrEqual(72 * 3600);
  });

  it('refuses when the job itself would not fit', async () => {
    const free = await storage.freeBytes();
    await expect(storage.ensureFree(free * 2)).rejects.toMatchObject({ code: 'DISK_FULL' });
  });
});

describe('sweeping inputs of ended jobs', () => {
  it('reads the job id back from an input name', async () => {
    const { jobIdOfInput } = await import('../src/storage/storage.js');
    expect(jobIdOfInput(storage.newInputPath('j0123456789ab', 'My Dance!.MP4').rel)).toBe('j0123456789ab');
    expect(jobIdOfInput(storage.newInputPath('j-with-dash', 'clip').rel)).toBe('j-with-dash');
    expect(jobIdOfInput('notes.txt')).toBeNull();
  });

  it('removes only old inputs whose job has ended, and asks about no young one', async () => {
    const { INPUT_GRACE_MS } = await import('../src/storage/storage.js');
    const now = Date.now();
    const make = (jobId: string, ageMs: number) => {
      const p = storage.newInputPath(jobId, 'v.mp4');
      writeFileSync(p.abs, 'x');
      utimesSync(p.abs, (now - ageMs) / 1000, (now - ageMs) / 1000);
      return p;
    };
    const endedOld = make('jended', INPUT_GRACE_MS + 60_000);
    const liveOld = make('jlive', INPUT_GRACE_MS + 60_000);
    const endedYoung = make('jyoung', 1000);
    const asked: string[] = [];
    const removed = await storage.sweepInputs(async (id) => {
      asked.push(id);
      return id !== 'jlive';
    }, now);
    expect(removed.map((f) => f.rel)).toEqual([endedOld.rel]);
    expect(asked.sort()).toEqual(['jended', 'jlive']);
    expect(existsSync(endedOld.abs)).toBe(false);
    expect(existsSync(liveOld.abs) && existsSync(endedYoung.abs)).toBe(true);
  });
});
