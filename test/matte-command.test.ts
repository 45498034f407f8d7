import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { PipelineError } from '../src/errors.js';
import type { Chunk, StageContext } from '../src/pipeline/types.js';
import { createCommandMatte, splitTemplate, substituteArgs } from '../src/pipeline/engines/matte-command.js';
import { clips, decodeRgb, tempDir } from './helpers/media.js';
import { rejection } from './helpers/assert.js';
import { processCommandLines } from './helpers/procs.js';

const W = 64;
const H = 48;
const N = 4;
const FRAME = W * H * 3;
/** ffmpeg as the "matting tool": alpha 0 on the left half, 255 on the right half. */
const HALF = `ffmpeg -v error -y -i {input} -vf "format=gray,geq=lum='if(gt(X,W/2),255,0)'"`;

/** Command lines of live (non-zombie) processes. */
async function liveProcesses(): Promise<string[]> {
  return processCommandLines()
    .filter((p) => !p.zombie && p.args)
    .map((p) => p.args);
}

describe('splitTemplate / substituteArgs', () => {
  it.each([
    ['python inference_rvm.py --input {input} --output {output}', ['python', 'inference_rvm.py', '--input', '{input}', '--output', '{output}']],
    ['  a   b\tc  ', ['a', 'b', 'c']],
    [`"/opt/my tools/matte" --model 'rvm fp32.onnx' x`, ['/opt/my tools/matte', '--model', 'rvm fp32.onnx', 'x']],
    [`--out={output} --name="a b"c'd e'`, ['--out={output}', '--name=a bcd e']],
    [`a "" '' b`, ['a', '', '', 'b']],
    [`"say \\"hi\\" \\\\ \\n" 'it''s'`, ['say "hi" \\ \\n', 'its']],
    [`a\\ b c`, ['a b', 'c']],
    [`C:\\tools\\rvm.exe {input}`, ['C:\\tools\\rvm.exe', '{input}']],
    [`sh -c 'echo $HOME; ls | wc' && rm *`, ['sh', '-c', 'echo $HOME; ls | wc', '&&', 'rm', '*']],
    ['', []],
  ])('%s', (template, expected) => {
    expect(splitTemplate(template)).toEqual(expected);
  });

  it('refuses unterminated quotes', () => {
    expect(() => splitTemplate(`a "b c`)).toThrow(/unterminated/);
    expect(() => splitTemplate(`a 'b c`)).toThrow(/unterminated/);
  });

  it('substitutes inside each argument, literally', () => {
    expect(substituteArgs(['x', '--in={input}', '{output}', '{input}:{input}'], { input: '/t/a $& b', output: "/t/o'.mp4" })).toEqual([
      'x',
      '--in=/t/a $& b',
      "/t/o'.mp4",
      '/t/a $& b:/t/a $& b',
    ]);
  });
});

describe('command matte engine (real ffmpeg as the external tool)', () => {
  let frames: Buffer;
  let tmp: { dir: string; remove: () => void };
  let work: string; // the run's temp dir, with a space in its name

  const ctxOf = (signal = new AbortController().signal, logs: string[] = []): StageContext => ({
    signal,
    tempDir: work,
    log: (m) => logs.push(m),
  });
  const chunk = (index = 0, count = N): Chunk => ({ index, start: index * N, count, width: W, height: H, format: 'rgb24', pixels: frames.subarray(0, count * FRAME) });

  beforeAll(async () => {
    frames = await decodeRgb(clips.girl, W, H, N);
    expect(frames.length).toBe(N * FRAME);
    tmp = tempDir();
    work = path.join(tmp.dir, 'run dir');
    mkdirSync(work);
  });
  afterAll(() => tmp?.remove());

  it('runs the template and joins the alpha it writes to the input colours', async () => {
    const engine = createCommandMatte({ template: `${HALF} {output}` });
    expect(engine.info()).toEqual({ engine: 'command: ffmpeg', device: 'external' });
    const out = await engine.process(chunk(2), ctxOf());
    expect(out).toMatchObject({ index: 2, start: 2 * N, count: N, width: W, height: H, format: 'rgba' });
    expect(out.pixels.length).toBe(N * W * H * 4);
    for (let f = 0; f < N; f++) {
      for (let y = 0; y < H; y += 7) {
        for (let x = 0; x < W; x++) {
          const o = f * W * H * 4 + (y * W + x) * 4;
          const i = f * FRAME + (y * W + x) * 3;
          expect([out.pixels[o], out.pixels[o + 1], out.pixels[o + 2]]).toEqual([frames[i], frames[i + 1], frames[i + 2]]);
          // lossy alpha video: well inside each half is clean
          if (x < W / 2 - 4) expect(out.pixels[o + 3]).toBeLessThan(12);
          if (x > W / 2 + 4) expect(out.pixels[o + 3]).toBeGreaterThan(243);
        }
      }
    }
    expect(existsSync(path.join(work, 'matte-cmd-2'))).toBe(false);
    await engine.close();
  }, 30_000);

  it('passes quoted arguments with spaces intact, and paths with spaces', async () => {
    // A wrapper script in a folder with a space, called with an argument that has spaces: it
    // refuses to work unless it receives exactly the arguments the template meant.
    const bin = path.join(tmp.dir, 'my tools');
    mkdirSync(bin, { recursive: true });
    const script = path.join(bin, 'fake matte');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        '[ "$#" -eq 4 ] || { echo "want 4 args, got $#" >&2; exit 3; }',
        '[ "$1" = "--model=rvm fp32.onnx" ] || { echo "bad arg 1: $1" >&2; exit 4; }',
        '[ "$2" = "two  spaces" ] || { echo "bad arg 2: $2" >&2; exit 5; }',
        `exec ffmpeg -v error -y -i "$3" -vf "format=gray,geq=lum='if(gt(X,W/2),255,0)'" "$4"`,
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    const engine = createCommandMatte({ template: `"${script}" --model='rvm fp32.onnx' "two  spaces" {input} {output}` });
    expect(engine.info().engine).toBe('command: fake matte');
    const out = await engine.process(chunk(0, 2), ctxOf());
    expect(out.count).toBe(2);
    expect(out.pixels[3]).toBeLessThan(12); // left edge transparent
    expect(out.pixels[(W - 1) * 4 + 3]).toBeGreaterThan(243); // right edge opaque
  }, 30_000);

  it('pads a short alpha video with its last frame; no frames at all is TOOL_FAILED', async () => {
    const logs: string[] = [];
    const short = createCommandMatte({ template: `ffmpeg -v error -y -i {input} -frames:v 2 -vf "format=gray,geq=lum='if(gt(X,W/2),255,0)'" {output}` });
    const out = await short.process(chunk(), ctxOf(undefined, logs));
    expect(out.count).toBe(N);
    const fb = W * H * 4;
    const alphaOf = (f: number) => Buffer.from(Array.from({ length: W * H }, (_, p) => out.pixels[f * fb + p * 4 + 3]));
    expect(alphaOf(3).equals(alphaOf(1))).toBe(true);
    expect(logs.join('\n')).toMatch(/2 alpha frames for 4 input frames/);

    const empty = createCommandMatte({ template: `sh -c ': > "$1"' sh {output} {input}` });
    const e = await rejection(empty.process(chunk(5), ctxOf()));
    expect(e.code).toBe('TOOL_FAILED');
    expect(existsSync(path.join(work, 'matte-cmd-5'))).toBe(false);
  }, 30_000);

  it('a failing command → TOOL_FAILED with its message, and the temp folder is still removed', async () => {
    const engine = createCommandMatte({ template: `sh -c 'echo "CUDA out of memory" >&2; exit 7' sh {input} {output}` });
    const e = await rejection(engine.process(chunk(4), ctxOf()));
    expect(e.code).toBe('TOOL_FAILED');
    expect(e.message).toMatch(/exit code 7/);
    expect(e.message).toMatch(/CUDA out of memory/);
    expect(existsSync(path.join(work, 'matte-cmd-4'))).toBe(false);

    const silent = createCommandMatte({ template: `sh -c 'true' sh {input} {output}` });
    const e2 = await rejection(silent.process(chunk(6), ctxOf()));
    expect(e2.code).toBe('TOOL_FAILED');
    expect(e2.message).toMatch(/did not write/);
    expect(readdirSync(work)).toEqual([]);
  }, 30_000);

  it('a missing program → TOOL_MISSING naming it and the config key', async () => {
    const engine = createCommandMatte({ template: 'dancelift-no-such-matter --input {input} --output {output}' });
    const e = await rejection(engine.process(chunk(7), ctxOf()));
    expect(e.code).toBe('TOOL_MISSING');
    expect(e.message).toContain('dancelift-no-such-matter');
    expect(e.message).toContain('matte.command.template');
    expect(existsSync(path.join(work, 'matte-cmd-7'))).toBe(false);
  }, 30_000);

  it('refuses a template without {input}/{output} or with a broken quote', async () => {
    expect((await rejection(() => createCommandMatte({ template: 'python x.py --input {input}' }))).message).toMatch(/\{output\}/);
    expect((await rejection(() => createCommandMatte({ template: 'python "x.py {input} {output}' }))).message).toMatch(/matte\.command\.template/);
    expect((await rejection(() => createCommandMatte({ template: '   ' }))).code).toBe('TOOL_MISSING');
  });

  it('cancel kills the command and what it started, quickly, and removes the temp folder', async () => {
    // sh runs sleep as a child (not exec'd: a command follows it), so the sleep is a grandchild of
    // ours: it must die too.
    const marker = '37.123';
    const engine = createCommandMatte({ template: `sh -c 'touch "$1.started"; sleep ${marker}; echo done' sh {output} {input}` });
    const ac = new AbortController();
    const started = path.join(work, 'matte-cmd-8', 'alpha.mp4.started');
    const poll = setInterval(() => {
      if (existsSync(started)) {
        clearInterval(poll);
        setTimeout(() => ac.abort(), 300);
      }
    }, 20);
    const t0 = performance.now();
    let abortedAt = 0;
    ac.signal.addEventListener('abort', () => (abortedAt = performance.now()));
    try {
      const e = await rejection(engine.process(chunk(8), ctxOf(ac.signal)));
      expect(e.code).toBe('CANCELLED');
    } finally {
      clearInterval(poll);
    }
    expect(abortedAt).toBeGreaterThan(0);
    expect(performance.now() - abortedAt).toBeLessThan(1500);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect((await liveProcesses()).filter((l) => l.includes(`sleep ${marker}`))).toEqual([]);
    expect(existsSync(path.join(work, 'matte-cmd-8'))).toBe(false);

    // already aborted: nothing starts
    const e2 = await rejection(engine.process(chunk(9), ctxOf(AbortSignal.abort())));
    expect(e2.code).toBe('CANCELLED');
    expect(existsSync(path.join(work, 'matte-cmd-9'))).toBe(false);
  }, 30_000);
});
