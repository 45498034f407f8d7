import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clips, repoRoot, rvmModel, tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-cli-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');

function run(args: string[], env: Record<string, string> = {}) {
  return execa('node', [cli, ...args], {
    cwd: tmp.dir,
    reject: false,
    env: {
      DANCELIFT_DATA_DIR: work('data'),
      DANCELIFT_TEMP_DIR: work('tmp'),
      DANCELIFT_RVM_MODEL: rvmModel,
      DANCELIFT_ORT_PROVIDERS: 'cpu',
      DANCELIFT_MAX_SHORT_SIDE: '96',
      LANG: 'en_US.UTF-8',
      ...env,
    },
  });
}

const tempLeft = () => (existsSync(work('tmp')) ? readdirSync(work('tmp')) : []);

beforeAll(() => {
  mkdirSync(work('batch'), { recursive: true });
  copyFileSync(clips.girl, work('batch', 'a-dance.mp4'));
  writeFileSync(work('batch', 'b-notes.mp4'), 'not a video at all\n');
  writeFileSync(work('notes.mp4'), 'not a video at all\n');
});
afterAll(() => tmp.remove());

describe('dancelift enhance (the CLI)', () => {
  it('--json prints exactly one JSON line per input and nothing else on stdout', async () => {
    const r = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--bg', '#00ff00', '--json', '--out', work('json')]);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const obj = JSON.parse(lines[0]);
    expect(Object.keys(obj)).toEqual(['input', 'output', 'ok', 'durationS', 'width', 'height', 'stats']);
    expect(obj).toMatchObject({ input: clips.girl, ok: true, width: 192, height: 192, durationS: 2 });
    expect(existsSync(path.resolve(tmp.dir, obj.output))).toBe(true);
    expect(obj.stats.stages.map((s: { name: string }) => s.name)).toEqual(['decode', 'upscale', 'matte', 'compose']);
    for (const s of obj.stats.stages) expect(Object.keys(s)).toEqual(expect.arrayContaining(['name', 'seconds', 'fps', 'engine', 'device']));
    expect(obj.stats.realtimeFactor).toBeGreaterThan(0);
    expect(tempLeft()).toEqual([]);
  });

  it('prints a timing table without --json', async () => {
    const r = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--bg', 'white', '--out', work('table')]);
    expect(r.exitCode).toBe(0);
    for (const word of ['decode', 'upscale', 'matte', 'compose', 'realtime']) expect(r.stdout).toContain(word);
  });

  it('goes on through a folder when one file fails, and says which and why', async () => {
    const r = await run(['enhance', work('batch'), '--upscaler', 'ffmpeg', '--matting', 'none', '--json', '--out', work('batch-out')]);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [path.basename(l.input), l.ok])).toEqual([['a-dance.mp4', true], ['b-notes.mp4', false]]);
    expect(lines[1]).toMatchObject({ output: null, stats: null });
    expect(lines[1].error).toMatch(/not a video/i);
    expect(existsSync(work('batch-out', 'a-dance.enhanced.mp4'))).toBe(true);
  });

  it('refuses a non-video with one clear line and a non-zero exit, in English or Chinese', async () => {
    const en = await run(['enhance', work('notes.mp4')]);
    expect(en.exitCode).toBe(1);
    expect(en.stderr.trim().split('\n').filter((l) => l.startsWith('✘'))).toHaveLength(1);
    expect(en.stderr).toMatch(/not a video/i);
    const zh = await run(['enhance', work('notes.mp4')], { LANG: 'zh_CN.UTF-8' });
    expect(zh.exitCode).toBe(1);
    expect(zh.stderr).toMatch(/[\u4e00-\u9fff]/);
    expect(tempLeft()).toEqual([]);
  });

  it('refuses a missing file and a bad option', async () => {
    const missing = await run(['enhance', work('nope.mp4')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/nope\.mp4/);
    const bad = await run(['enhance', clips.girl, '--scale', '7']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--scale must be one of/);
  });

  it('lists the background library', async () => {
    const r = await run(['backgrounds', '--json']);
    expect(r.exitCode).toBe(0);
    const names = JSON.parse(r.stdout).map((b: { name: string }) => b.name);
    expect(names).toEqual(expect.arrayContaining(['studio', 'night']));
  });

  it('recompose puts a kept cut-out on another background', async () => {
    const first = await run(['enhance', clips.girl, '--upscaler', 'ffmpeg', '--keep-cutout', '--json', '--out', work('cut')]);
    expect(first.exitCode).toBe(0);
    const cutout = work('cut', 'girl_dancing_512x512_4fps.cutout.mkv');
    expect(existsSync(cutout)).toBe(true);
    const again = await run(['recompose', cutout, '--bg', 'sunset', '--json', '--out', work('cut')]);
    expect(again.exitCode).toBe(0);
    const obj = JSON.parse(again.stdout.trim());
    expect(obj).toMatchObject({ ok: true, width: 192, height: 192 });
    expect(existsSync(path.resolve(tmp.dir, obj.output))).toBe(true);
  });

  it('Ctrl-C while child processes run: cancelled cleanly, no output, no temp files, not killed by the signal', async () => {
    // A long clip at 256 px: the job is certainly still running (ffmpeg and RVM busy) when the signal comes.
    const child = run(['enhance', clips.openpose, '--upscaler', 'ffmpeg', '--bg', '#ffffff', '--json', '--out', work('interrupted')], { DANCELIFT_MAX_SHORT_SIDE: '256' });
    const deadline = Date.now() + 60_000;
    while (tempLeft().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tempLeft().length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const r = await child;
    expect({ exitCode: r.exitCode, signal: r.signal }, r.stderr).toEqual({ exitCode: 1, signal: undefined });
    expect(r.stderr).toContain('cancelling');
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ ok: false, output: null });
    expect(existsSync(work('interrupted')) ? readdirSync(work('interrupted')) : []).toEqual([]);
    expect(tempLeft()).toEqual([]);
  });
});
