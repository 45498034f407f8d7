import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameEnergies, mostActiveStart, previewPathFor } from '../src/pipeline/preview.js';
import { parseCommand } from '../src/cli/args.js';
import { jsonResultLine } from '../src/cli/run-output.js';
import { clips, ffmpeg, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, sampleResult } from './helpers/fixtures.js';

describe('--preview (pure parts)', () => {
  it('motion energy: the mean change from the previous frame', () => {
    const gray = Buffer.from([10, 10, 10, 10, 30, 10, 10, 10, 30, 10]);
    expect(frameEnergies(gray, 2)).toEqual([0, 0, 10, 10, 10]);
  });
  it('picks the window with the most motion, the earliest of equals, all of a short video', () => {
    expect(mostActiveStart([0, 0, 0, 5, 9, 7, 0, 0], 3)).toBe(3);
    expect(mostActiveStart([0, 1, 1, 1, 1, 1], 2)).toBe(0);
    expect(mostActiveStart([0, 4, 0, 0], 10)).toBe(0);
    // A window's first frame brings no motion of its own: the change into it happened before.
    expect(mostActiveStart([0, 0, 9, 1, 1, 0, 2, 2], 2)).toBe(1);
    expect(mostActiveStart([0, 0, 9, 1, 1, 0, 2, 2], 3)).toBe(1);
  });
  it('names, flags and the JSON line', () => {
    expect(previewPathFor('out/My Dance.enhanced.mp4')).toBe('out/My Dance.preview.mp4');
    expect(parseCommand(['enhance', 'a.mp4', '--preview', '2'])).toMatchObject({ opts: { preview: 2 } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--preview', '0'])).toThrow(/--preview must be seconds/);
    const line = JSON.parse(jsonResultLine({ input: 'a', output: 'b', ok: true, durationS: 2, width: 1, height: 1, stats: sampleResult.stats, preview: { startS: 2.0416666, seconds: 2, selectS: 0.41234 } }));
    expect(line.preview).toEqual({ startS: 2.042, seconds: 2, selectS: 0.412 });
  });
});

describe('enhance --preview 2 --json, end to end (the CLI, real RVM on the CPU)', () => {
  const tmp = tempDir('dancelift-preview-');
  const work = (...p: string[]) => path.join(tmp.dir, ...p);
  let clip: string;
  const run = (args: string[]) =>
    execa('node', [path.join(repoRoot, 'bin', 'dancelift.js'), ...args], {
      cwd: tmp.dir,
      reject: false,
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_RVM_MODEL: rvmModel, DANCELIFT_ORT_PROVIDERS: 'cpu', DANCELIFT_MAX_SHORT_SIDE: '64' },
    });
  beforeAll(async () => {
    // 6 s with music: 2 s standing still (a frozen frame), 2 s of dancing, 2 s still again.
    const dance = await makeClip(tmp.dir, 'dance.mp4', clips.musepose, { seconds: 2, width: 72, height: 128, start: 3 });
    clip = work('still-dance-still.mp4');
    await ffmpeg(['-i', dance, '-vf', 'tpad=start_duration=2:stop_duration=2:start_mode=clone:stop_mode=clone', '-af', 'adelay=2000:all=1,apad', '-t', '6',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '16', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip]);
  });
  afterAll(() => tmp.remove());

  it('gives a 2 s output of the dancing part, and does a third of the full run\'s work', async () => {
    const r = await run(['enhance', clip, '--upscaler', 'ffmpeg', '--bg', 'white', '--preview', '2', '--json', '--out', work('out')]);
    expect(r.exitCode, r.stderr).toBe(0);
    const preview = JSON.parse(r.stdout.trim());
    expect(preview).toMatchObject({ ok: true, input: clip, output: work('out', 'still-dance-still.preview.mp4'), durationS: 2 });
    // The dancing starts at 2 s: the chosen stretch starts there (to the frame, 24 fps).
    expect(Math.abs(preview.preview.startS - 2)).toBeLessThanOrEqual(1 / 24 + 1e-6);
    expect(preview.preview.seconds).toBe(2);
    const p = await ffprobeJson(preview.output);
    expect(Math.abs(Number(p.format.duration) - 2)).toBeLessThan(0.1);
    expect(p.streams.some((s) => s.codec_type === 'audio')).toBe(true);
    expect(existsSync(work('tmp')) ? readdirSync(work('tmp')) : []).toEqual([]);

    const full = JSON.parse((await run(['enhance', clip, '--upscaler', 'ffmpeg', '--bg', 'white', '--json', '--out', work('out')])).stdout.trim());
    expect(full).toMatchObject({ ok: true, durationS: 6, output: work('out', 'still-dance-still.enhanced.mp4') });
    // The work, stage by stage: 48 frames against 144. (Times are a bench figure, not a test.)
    const frames = (j: { stats: { stages: Array<{ name: string; fps: number; seconds: number }> } }) => j.stats.stages.map((s) => Math.round(s.fps * s.seconds));
    for (const [i, n] of frames(preview).entries()) {
      expect(Math.abs(n - 48), `${preview.stats.stages[i].name}`).toBeLessThanOrEqual(1);
      expect(Math.abs(frames(full)[i] - 144)).toBeLessThanOrEqual(1);
    }
  });
});
