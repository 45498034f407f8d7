import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { generateBackground, imageExtension, validBackgroundName } from '../src/backgrounds/generate.js';
import { a1111Request } from '../src/backgrounds/generator-a1111.js';
import { comfyExecutionError, comfySampler, comfyWorkflow } from '../src/backgrounds/generator-comfyui.js';
import { errorDetail } from '../src/backgrounds/generator-http.js';
import { kenBurnsFilter, loopSize } from '../src/backgrounds/ken-burns.js';
import { ensureDefaultBackgrounds, listBackgrounds } from '../src/backgrounds/library.js';
import { renderGallery } from '../src/bots/gallery.js';
import { errorMessage } from '../src/i18n/messages.js';
import { parseCommand, UsageError } from '../src/cli/args.js';
import { downUrl, renderPng, startFakeA1111, startFakeComfy, type FakeComfy, type FakeServer } from './fakes/stable-diffusion.js';
import { ffprobeJson, tempDir } from './helpers/media.js';
import { rejection } from './helpers/assert.js';

const tmp = tempDir('dancelift-gen-');
const lib = path.join(tmp.dir, 'data', 'backgrounds');

/** A config whose library is the test's, with small pictures (64x64: the fake draws them with ffmpeg). */
function config(over: Partial<Config['backgrounds']['generator']> = {}): Config {
  const c = loadConfig({ env: { DANCELIFT_DATA_DIR: path.join(tmp.dir, 'data') } });
  c.backgrounds.generator = { ...c.backgrounds.generator, width: 64, height: 64, ...over };
  return c;
}

/** Files in the library, hidden ones included: a failure must leave no temp file and no new entry. */
const libraryFiles = async () => (await readdir(lib)).sort();

let a1111: FakeServer;
let comfy: FakeComfy;
beforeAll(async () => {
  await ensureDefaultBackgrounds(lib, { size: 64 });
  a1111 = await startFakeA1111();
  comfy = await startFakeComfy();
});
afterAll(async () => {
  await a1111?.close();
  await comfy?.close();
  tmp.remove();
});

describe('backgrounds generate: the command line', () => {
  it('parses the prompt, name and overrides', () => {
    expect(parseCommand(['backgrounds', 'generate', 'a neon city', '--name', 'city', '--kind', 'comfyui', '--url', 'http://gpu:8188', '--loop', '6', '--json'])).toEqual({
      kind: 'backgrounds-generate',
      prompt: 'a neon city',
      opts: { name: 'city', kind: 'comfyui', url: 'http://gpu:8188', loopS: 6, json: true, lang: undefined, config: undefined },
    });
    expect(parseCommand(['backgrounds', '--json', '--config', 'x.yaml'])).toEqual({ kind: 'backgrounds', json: true, config: 'x.yaml' });
  });
  it.each([
    [['backgrounds', 'generate', 'x'], /needs --name NAME/],
    [['backgrounds', 'generate', '--name', 'x'], /takes one prompt/],
    [['backgrounds', 'generate', 'a', 'b', '--name', 'x'], /takes one prompt/],
    [['backgrounds', 'generate', 'x', '--name', 'x', '--kind', 'midjourney'], /--kind must be one of automatic1111, comfyui/],
    [['backgrounds', 'generate', 'x', '--name', 'x', '--loop', 'long'], /--loop must be seconds/],
    [['backgrounds', 'make'], /unknown backgrounds command "make"/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(msg);
  });
});

describe('generator requests (pure)', () => {
  it('AUTOMATIC1111: the txt2img fields, from the config', () => {
    const g = config({ steps: 30, cfgScale: 6.5, sampler: 'DPM++ 2M Karras', negativePrompt: 'people' }).backgrounds.generator;
    expect(a1111Request('a neon city', g)).toEqual({
      prompt: 'a neon city', negative_prompt: 'people', width: 64, height: 64, steps: 30, cfg_scale: 6.5,
      sampler_name: 'DPM++ 2M Karras', seed: -1, batch_size: 1, n_iter: 1, send_images: true, save_images: false,
    });
  });
  it('ComfyUI: the default text-to-image graph, every link to an existing node', () => {
    const g = config().backgrounds.generator;
    const wf = comfyWorkflow('a beach', g, 42);
    expect(wf['6'].inputs.text).toBe('a beach');
    expect(wf['5'].inputs).toEqual({ width: 64, height: 64, batch_size: 1 });
    expect(wf['3'].inputs).toMatchObject({ seed: 42, sampler_name: 'euler_ancestral', scheduler: 'normal' });
    for (const node of Object.values(wf)) {
      for (const v of Object.values(node.inputs)) if (Array.isArray(v)) expect(Object.keys(wf)).toContain(v[0]);
    }
    expect(comfySampler('DPM++ 2M Karras')).toEqual(['dpmpp_2m', 'karras']);
    expect(comfySampler('dpmpp_3m_sde')).toEqual(['dpmpp_3m_sde', 'normal']);
    expect(comfyExecutionError([['execution_error', { node_type: 'KSampler', exception_message: 'CUDA out of memory' }]])).toBe('KSampler: CUDA out of memory');
  });
  it('error bodies become one short line', () => {
    expect(errorDetail(422, JSON.stringify({ detail: [{ loc: ['body', 'steps'], msg: 'value is not a valid integer' }] }))).toBe('HTTP 422 value is not a valid integer');
    expect(errorDetail(400, JSON.stringify({ error: { type: 'x', message: 'Prompt outputs failed validation' } }))).toBe('HTTP 400 Prompt outputs failed validation');
    expect(errorDetail(502, '<html>\n bad gateway</html>')).toBe('HTTP 502 <html> bad gateway</html>');
  });
  it('names, picture types, loop sizes', () => {
    expect(validBackgroundName('neon city')).toBe(true);
    expect(validBackgroundName('霓虹')).toBe(true);
    for (const bad of ['../x', 'a/b', '.hidden', ' lead', 'x'.repeat(41), '']) expect(validBackgroundName(bad), bad).toBe(false);
    expect(imageExtension(Buffer.from('<html>'))).toBeNull();
    expect(imageExtension(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('.jpg');
    expect(loopSize(1024, 1024)).toEqual([1024, 1024]);
    expect(loopSize(2048, 1152)).toEqual([1080, 608]);
    expect(kenBurnsFilter(64, 64, 50)).toContain('zoompan=');
  });
});

describe('backgrounds generate against local fakes of the real servers', () => {
  it('AUTOMATIC1111: the picture is probed, added to the library, listed and shown in the gallery', async () => {
    const before = a1111.requests.length;
    const r = await generateBackground({ prompt: 'a neon city at night', name: 'neon city', config: config({ url: a1111.url, kind: 'automatic1111' }) });
    expect(r.image).toMatchObject({ name: 'neon city', kind: 'image', width: 64, height: 64, path: path.join(lib, 'neon city.png') });
    expect(r.generator).toEqual({ kind: 'automatic1111', url: a1111.url });
    const sent = a1111.requests.slice(before);
    expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual(['POST /sdapi/v1/txt2img']);
    expect(sent[0].body).toMatchObject({ prompt: 'a neon city at night', width: 64, height: 64 });
    // The bytes are the server's picture, unchanged.
    const probe = await ffprobeJson(r.image.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'png', width: 64, height: 64 });
    expect((await listBackgrounds(lib)).find((b) => b.name === 'neon city')).toEqual({ name: 'neon city', kind: 'image', path: r.image.path });
    // The bots' gallery renders it beside the defaults.
    const gallery = path.join(tmp.dir, 'gallery.jpg');
    await renderGallery(['neon city', 'studio'], lib, gallery);
    expect((await ffprobeJson(gallery)).streams[0].codec_name).toBe('mjpeg');
    expect((await libraryFiles()).filter((f) => f.startsWith('.generate'))).toEqual([]);
  });

  it('ComfyUI: /prompt, then /history until done, then /view; the picture lands in the library', async () => {
    const before = comfy.requests.length;
    const r = await generateBackground({ prompt: 'a sunny beach', name: 'beach', config: config({ url: comfy.url, kind: 'comfyui' }) });
    expect(r.image).toMatchObject({ name: 'beach', kind: 'image', width: 64, height: 64 });
    const calls = comfy.requests.slice(before).map((q) => `${q.method} ${q.path.replace(/[0-9a-f-]{36}/, 'ID').replace(/\?.*/, '?…')}`);
    // Order, not timing: queued first, polled (at least once) until it ran, then fetched once.
    expect(calls[0]).toBe('POST /prompt');
    expect(calls.at(-1)).toBe('GET /view?…');
    expect(calls.slice(1, -1).every((c) => c === 'GET /history/ID')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    const view = comfy.requests.at(-1)!.path;
    expect(new URL(view, 'http://x').searchParams.get('type')).toBe('output');
    expect((await listBackgrounds(lib)).map((b) => b.name)).toContain('beach');
  });

  it('ComfyUI: a checkpoint the server does not have is refused with its own words', async () => {
    const err = await rejection(generateBackground({ prompt: 'x', name: 'nockpt', config: config({ url: comfy.url, kind: 'comfyui', checkpoint: 'missing.safetensors' }) }));
    expect(err.code).toBe('GENERATOR_FAILED');
    expect(err.params.reason).toBe('refused');
    expect(errorMessage(err, 'en')).toMatch(/refused the request: HTTP 400 Prompt outputs failed validation/);
  });

  it('a server that is down: a clear message in English and Chinese, nothing added', async () => {
    const filesBefore = await libraryFiles();
    const url = await downUrl();
    const err = await rejection(generateBackground({ prompt: 'x', name: 'down', config: config({ url }) }));
    expect(err.params).toMatchObject({ reason: 'unreachable', url });
    expect(errorMessage(err, 'en')).toContain(`The image generator at ${url} does not answer. Is it running`);
    expect(errorMessage(err, 'en')).toContain('ECONNREFUSED');
    expect(errorMessage(err, 'zh')).toContain('无法连接');
    expect(await libraryFiles()).toEqual(filesBefore);
  });

  it('a server that never answers: a timeout after timeoutS, for both kinds', async () => {
    const filesBefore = await libraryFiles();
    a1111.behave('hang');
    comfy.behave('hang');
    try {
      for (const kind of ['automatic1111', 'comfyui'] as const) {
        const url = kind === 'comfyui' ? comfy.url : a1111.url;
        const err = await rejection(generateBackground({ prompt: 'x', name: 'slow', config: config({ url, kind, timeoutS: 1.5 }) }));
        expect(err.params, kind).toMatchObject({ reason: 'timeout', seconds: 1.5 });
        expect(errorMessage(err, 'en')).toMatch(/did not finish within 2 s\. Raise backgrounds\.generator\.timeoutS/);
        expect(errorMessage(err, 'zh')).toContain('内没有完成');
      }
    } finally {
      a1111.behave('ok');
      comfy.behave('ok');
    }
    expect(await libraryFiles()).toEqual(filesBefore);
  });

  it('bytes that are not a picture: a clear message, nothing added, no temp file left', async () => {
    const filesBefore = await libraryFiles();
    for (const server of [a1111, comfy]) {
      server.behave('bad-image');
      try {
        const kind = server === comfy ? 'comfyui' : 'automatic1111';
        const err = await rejection(generateBackground({ prompt: 'x', name: 'broken', config: config({ url: server.url, kind }) }));
        expect(err.params.reason, kind).toBe('bad-image');
        expect(errorMessage(err, 'en')).toBe('The image generator did not send back a usable picture: not a PNG, JPEG or WebP picture');
        expect(errorMessage(err, 'zh')).toMatch(/返回的不是可用的图片/);
      } finally {
        server.behave('ok');
      }
    }
    expect(await libraryFiles()).toEqual(filesBefore);
  });

  it("the server's own failure (out of GPU memory) is passed on", async () => {
    for (const server of [a1111, comfy]) {
      server.behave('fail');
      try {
        const err = await rejection(generateBackground({ prompt: 'x', name: 'oom', config: config({ url: server.url, kind: server === comfy ? 'comfyui' : 'automatic1111' }) }));
        expect(err.params.reason).toBe('refused');
        expect(errorMessage(err, 'en')).toMatch(/CUDA out of memory/);
      } finally {
        server.behave('ok');
      }
    }
  });

  it('refuses a taken name, a bad name and a missing URL before calling the server', async () => {
    const before = a1111.requests.length;
    const taken = await rejection(generateBackground({ prompt: 'x', name: 'Studio', config: config({ url: a1111.url }) }));
    expect(errorMessage(taken, 'en')).toBe('The library already has a background called "Studio": choose another name.');
    const bad = await rejection(generateBackground({ prompt: 'x', name: '../etc', config: config({ url: a1111.url }) }));
    expect(bad.params.reason).toBe('bad-name');
    const off = await rejection(generateBackground({ prompt: 'x', name: 'off', config: config({ url: '' }) }));
    expect(errorMessage(off, 'en')).toMatch(/set backgrounds\.generator\.url/);
    expect(errorMessage(off, 'zh')).toMatch(/backgrounds\.generator\.url/);
    expect(a1111.requests.length).toBe(before);
  });

  it('--loop: a seamless Ken Burns pan video beside the still', async () => {
    const r = await generateBackground({ prompt: 'mountains', name: 'peaks', config: config({ url: a1111.url }), loopS: 2 });
    expect(r.loop).toMatchObject({ name: 'peaks-loop', kind: 'video', width: 64, height: 64 });
    expect((await listBackgrounds(lib)).filter((b) => b.name.startsWith('peaks'))).toEqual([
      { name: 'peaks', kind: 'image', path: path.join(lib, 'peaks.png') },
      { name: 'peaks-loop', kind: 'video', path: path.join(lib, 'peaks-loop.mp4') },
    ]);
    const probe = await ffprobeJson(r.loop!.path);
    expect(probe.streams[0]).toMatchObject({ codec_name: 'h264', pix_fmt: 'yuv420p', nb_frames: '50' });
    // Compared as 8x8 area-averaged thumbnails: the pan moves the picture's broad shapes, while
    // x264's grain (a few tenths of a level on a smooth picture) would otherwise count as motion.
    const frames = (await execa('ffmpeg', ['-v', 'error', '-i', r.loop!.path, '-vf', 'scale=8:8:flags=area', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 26 })).stdout;
    const n = 8 * 8;
    const frame = (i: number) => frames.subarray(i * n, (i + 1) * n);
    const diff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    // It moves (half a turn away differs), and the wrap from the last frame to the first is no bigger a step than any other.
    expect(diff(frame(25), frame(0))).toBeGreaterThan(1.5 * diff(frame(1), frame(0)));
    expect(diff(frame(49), frame(0))).toBeLessThan(2 * diff(frame(1), frame(0)) + 0.5);
  });

  it('the fake draws real PNGs at the requested size', async () => {
    const png = await renderPng(80, 48, 'seed');
    expect(imageExtension(png)).toBe('.png');
  });
});
