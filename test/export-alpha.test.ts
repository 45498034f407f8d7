import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alphaExportArgs, alphaExportPaths } from '../src/pipeline/export-alpha.js';
import { enhance } from '../src/pipeline/index.js';
import { parseCommand } from '../src/cli/args.js';
import { clips, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { rejection } from './helpers/assert.js';

const tmp = tempDir('dancelift-alpha-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');

/** Decodes every frame of one stream as raw bytes (decoder and filter chosen by the caller). */
async function raw(args: string[]): Promise<Buffer> {
  const { stdout } = await execa('ffmpeg', ['-v', 'error', ...args, '-f', 'rawvideo', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
  return Buffer.from(stdout);
}
const meanAbsDiff = (a: Buffer, b: Buffer) => {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('--export alpha (pure parts)', () => {
  it('names the files beside the output', () => {
    expect(alphaExportPaths('out/My Dance.enhanced.mp4')).toEqual({ webm: 'out/My Dance.alpha.webm', mov: 'out/My Dance.alpha.mov' });
  });
  it('one ffmpeg: VP9 with alpha (libvpx) and ProRes 4444, BT.709 tagged, audio padded not cut', () => {
    const args = alphaExportArgs({ width: 64, height: 96, fpsRational: '24/1', audioFrom: { file: '/in.mp4' }, webm: '/o/a.webm', mov: '/o/a.mov' }).join(' ');
    expect(args).toContain('-c:v libvpx-vp9 -pix_fmt yuva420p -auto-alt-ref 0');
    expect(args).toContain('-c:v prores_ks -profile:v 4444 -pix_fmt yuva444p10le');
    expect(args).toMatch(/-c:a libopus .*-af apad -shortest/);
    expect(args).toContain('-colorspace bt709');
    expect(args).toContain('scale=out_color_matrix=bt709');
    expect(alphaExportArgs({ width: 64, height: 96, fpsRational: '24/1', audioFrom: null, webm: 'a', mov: 'b' }).join(' ')).not.toContain('apad');
  });
  it('the flag', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--export', 'alpha'])).toMatchObject({ kind: 'enhance', opts: { export: 'alpha' } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--export', 'gif'])).toThrow('--export must be one of alpha (got "gif")');
    expect(() => parseCommand(['enhance', 'a.mp4', '--export', 'alpha', '--matting', 'none'])).toThrow(/needs matting/);
  });
});

describe('enhance --export alpha, end to end (the CLI, real RVM on the CPU)', () => {
  let clip: string;
  let result: { output: string; width: number; height: number; exports: { webm: string; mov: string } };
  let cutoutAlpha: Buffer;
  beforeAll(async () => {
    // Portrait with music, like a Viggle clip: 1.5 s, small.
    clip = await makeClip(tmp.dir, 'dance.mp4', clips.musepose, { seconds: 1.5, width: 144, height: 256, start: 3 });
    const r = await execa('node', [cli, 'enhance', clip, '--upscaler', 'ffmpeg', '--bg', 'white', '--export', 'alpha', '--keep-cutout', '--json', '--out', work('out')], {
      cwd: tmp.dir,
      reject: false,
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_RVM_MODEL: rvmModel, DANCELIFT_ORT_PROVIDERS: 'cpu', DANCELIFT_MAX_SHORT_SIDE: '96' },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    result = JSON.parse(r.stdout.trim());
    // The alpha RVM produced, losslessly kept in the cut-out (FFV1 gray): what the exports must carry.
    // Its last 36 frames: the cut-out MKV of a clip with audio currently repeats its first frame
    // (37 frames decoded, the first two equal), which the exports do not.
    const all = await raw(['-i', work('out', 'dance.cutout.mkv'), '-map', '0:v:1', '-pix_fmt', 'gray']);
    cutoutAlpha = all.subarray(all.length - 36 * result.width * result.height);
  });
  afterAll(() => tmp.remove());

  it('reports both files in the JSON line, beside the video; no partial or temp file left', () => {
    expect(result.exports).toEqual({ webm: path.join(work('out'), 'dance.alpha.webm'), mov: path.join(work('out'), 'dance.alpha.mov') });
    expect(readdirSync(work('out')).sort()).toEqual(['dance.alpha.mov', 'dance.alpha.webm', 'dance.cutout.mkv', 'dance.enhanced.mp4']);
    expect(existsSync(work('tmp')) ? readdirSync(work('tmp')) : []).toEqual([]);
  });

  it("WebM: VP9 whose frames, decoded by libvpx-vp9, are yuva420p and carry the dancer's alpha", async () => {
    const p = await ffprobeJson(result.exports.webm);
    const v = p.streams.find((s) => s.codec_type === 'video')! as { codec_name: string; width: number; height: number; tags?: Record<string, string> };
    expect(v).toMatchObject({ codec_name: 'vp9', width: result.width, height: result.height });
    expect(v.tags?.ALPHA_MODE ?? v.tags?.alpha_mode).toBe('1');
    expect(p.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('opus');
    // ffmpeg's native vp9 decoder drops the alpha side channel: decode with libvpx explicitly.
    const info = await execa('ffmpeg', ['-v', 'info', '-c:v', 'libvpx-vp9', '-i', result.exports.webm, '-frames:v', '1', '-vf', 'showinfo', '-f', 'null', '-'], { reject: false });
    expect(info.stderr).toMatch(/fmt:yuva420p/);
    const alpha = await raw(['-c:v', 'libvpx-vp9', '-i', result.exports.webm, '-vf', 'alphaextract', '-pix_fmt', 'gray']);
    const frames = alpha.length / (result.width * result.height);
    expect(frames).toBe(36);
    // Both transparent background and an opaque dancer, and the same matte RVM made (VP9 is lossy: near, not equal).
    const transparent = alpha.filter((a) => a < 8).length / alpha.length;
    const opaque = alpha.filter((a) => a > 247).length / alpha.length;
    expect(transparent).toBeGreaterThan(0.3);
    expect(opaque).toBeGreaterThan(0.05);
    expect(meanAbsDiff(alpha, cutoutAlpha)).toBeLessThan(2);
    // The native decoder really has no alpha to give: the check above needs libvpx.
    const native = await execa('ffmpeg', ['-v', 'error', '-c:v', 'vp9', '-i', result.exports.webm, '-vf', 'alphaextract', '-frames:v', '1', '-f', 'null', '-'], { reject: false });
    expect(native.exitCode).not.toBe(0);
  });

  it('MOV: ProRes 4444 with a yuva444p10le alpha equal to the matte, PCM audio', async () => {
    const p = await ffprobeJson(result.exports.mov);
    const v = p.streams.find((s) => s.codec_type === 'video')! as { codec_name: string; profile?: string; pix_fmt?: string; width: number; height: number };
    // ffprobe names the decoder's output format: 12-bit for any 4444 with alpha.
    expect(v).toMatchObject({ codec_name: 'prores', profile: '4444', pix_fmt: expect.stringMatching(/^yuva444p1[02]le$/), width: result.width, height: result.height });
    expect(p.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('pcm_s16le');
    const alpha = await raw(['-i', result.exports.mov, '-vf', 'alphaextract', '-pix_fmt', 'gray']);
    expect(meanAbsDiff(alpha, cutoutAlpha)).toBeLessThan(0.5);
  });

  it('the colours are the video\'s: where the dancer is opaque, the WebM and the composed MP4 agree', async () => {
    const [w, h] = [result.width, result.height];
    const webm = await raw(['-c:v', 'libvpx-vp9', '-i', result.exports.webm, '-frames:v', '1', '-pix_fmt', 'rgba']);
    const mp4 = await raw(['-i', result.output, '-frames:v', '1', '-pix_fmt', 'rgb24']);
    let sum = 0;
    let n = 0;
    for (let i = 0; i < w * h; i++) {
      if (webm[i * 4 + 3] < 250) continue;
      for (let c = 0; c < 3; c++) sum += Math.abs(webm[i * 4 + c] - mp4[i * 3 + c]);
      n += 3;
    }
    expect(n).toBeGreaterThan(300);
    expect(sum / n).toBeLessThan(8);
  });

  it('lasts as long as the video (audio padded, never cut short)', async () => {
    const d = async (f: string) => Number((await ffprobeJson(f)).format.duration);
    const video = await d(result.output);
    expect(Math.abs((await d(result.exports.webm)) - video)).toBeLessThan(0.1);
    expect(Math.abs((await d(result.exports.mov)) - video)).toBeLessThan(0.1);
  });

  it('refuses --export alpha without matting, before any work', async () => {
    const err = await rejection(enhance({ input: clip, output: work('none', 'x.mp4'), matting: 'none', exportAlpha: { webm: work('none', 'x.webm'), mov: work('none', 'x.mov') }, config: testConfig(tmp.dir) }));
    expect(err.code).toBe('UNSUPPORTED');
    expect(existsSync(work('none'))).toBe(false);
  });
});
