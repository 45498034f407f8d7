/**
 * The default backgrounds are made once per folder: concurrent callers in one process share a run,
 * another process's lock is waited out (a dead holder's is taken over), and an ffmpeg killed by a
 * signal is reported as killed, never as "not installed".
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_BACKGROUNDS, DEFAULTS_LOCK, ensureDefaultBackgrounds } from '../src/backgrounds/library.js';
import { tempDir } from './helpers/media.js';
import { sleep } from './helpers/wait.js';

const tmp = tempDir('dancelift-bg-once-');
afterAll(() => tmp.remove());
const visible = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith('.'));

describe('default backgrounds, once', () => {
  it('concurrent callers share one run', async () => {
    const dir = path.join(tmp.dir, 'shared');
    const runs = await Promise.all([1, 2, 3].map(() => ensureDefaultBackgrounds(dir, { size: 32 })));
    expect(runs[1]).toBe(runs[0]);
    expect(runs[2]).toBe(runs[0]);
    expect(runs[0].generated).toHaveLength(DEFAULT_BACKGROUNDS.length);
    expect(visible(dir)).toHaveLength(DEFAULT_BACKGROUNDS.length);
    expect(existsSync(path.join(dir, DEFAULTS_LOCK))).toBe(false);
  });

  it("waits while a live process holds the folder's lock, then makes what is still missing", async () => {
    const dir = path.join(tmp.dir, 'locked');
    mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, DEFAULTS_LOCK);
    writeFileSync(lock, String(process.pid)); // this process is alive: the lock is honoured
    let done = false;
    const run = ensureDefaultBackgrounds(dir, { size: 32 }).then((r) => ((done = true), r));
    await sleep(1500);
    expect(done).toBe(false);
    expect(visible(dir)).toEqual([]);
    // the holder made one of them meanwhile, then let go
    writeFileSync(path.join(dir, 'green.png'), 'made by the other process');
    rmSync(lock);
    const r = await run;
    expect(r.skipped).toContain('green');
    expect(r.generated).toHaveLength(DEFAULT_BACKGROUNDS.length - 1);
  });

  it("takes over a dead holder's lock", async () => {
    const dir = path.join(tmp.dir, 'stale');
    mkdirSync(dir, { recursive: true });
    // pid 2^22+1 is above Linux's pid_max: no such process
    writeFileSync(path.join(dir, DEFAULTS_LOCK), String(4194305));
    const r = await ensureDefaultBackgrounds(dir, { size: 32 });
    expect(r.generated).toHaveLength(DEFAULT_BACKGROUNDS.length);
  });

  it('an ffmpeg killed by a signal is a failure that says so, not a missing tool', async () => {
    const dir = path.join(tmp.dir, 'killed');
    const ffmpeg = path.join(tmp.dir, 'ffmpeg-killed.sh');
    writeFileSync(ffmpeg, '#!/bin/sh\nkill -TERM $$\n');
    chmodSync(ffmpeg, 0o755);
    const err = await ensureDefaultBackgrounds(dir, { size: 32, ffmpeg }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOOL_FAILED', params: { tool: 'ffmpeg', detail: 'killed by SIGTERM' } });
    const missing = await ensureDefaultBackgrounds(path.join(tmp.dir, 'missing'), { size: 32, ffmpeg: path.join(tmp.dir, 'no-such-ffmpeg') }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'TOOL_MISSING' });
  });
});
