/**
 * `dancelift backgrounds generate "PROMPT" --name NAME`: a picture from the Stable Diffusion server
 * the user runs (AUTOMATIC1111/Forge or ComfyUI, on their own GPU) becomes a library background.
 * The bytes are written under a hidden name in the library folder, probed like any background
 * (ffprobe decides, first frame decoded), and only then linked to their final name — so the
 * library never lists half a file, a broken picture, or one that overwrote another.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import type { Config, generatorSchema } from '../config/schema.js';
import { PipelineError } from '../errors.js';
import { txt2imgA1111 } from './generator-a1111.js';
import { txt2imgComfy } from './generator-comfyui.js';
import { generatorError, type GeneratorHttp } from './generator-http.js';
import { makeKenBurnsLoop } from './ken-burns.js';
import { backgroundsDir, ensureDefaultBackgrounds, listBackgrounds, probeBackgroundFile } from './library.js';

export type GeneratorSettings = z.infer<typeof generatorSchema>;
export type GeneratorKind = GeneratorSettings['kind'];

/** A library name: letters (any script), digits, spaces, _ and -, 1-40 characters; never a path. */
export function validBackgroundName(name: string): boolean {
  return /^[\p{L}\p{N}_-][\p{L}\p{N} _-]{0,39}$/u.test(name) && name.trim() === name;
}

/** Pure: the image type from its first bytes (the extension the library file gets), or null. */
export function imageExtension(bytes: Buffer): '.png' | '.jpg' | '.webp' | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return '.png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return '.jpg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return '.webp';
  return null;
}

/** The name of the Ken Burns loop made beside a generated still. */
export const loopName = (name: string) => `${name}-loop`;

export interface GenerateRequest {
  prompt: string;
  name: string;
  config: Config;
  /** Override config backgrounds.generator.kind / url / loopS. */
  kind?: GeneratorKind;
  url?: string;
  loopS?: number;
  signal?: AbortSignal;
}

export interface GeneratedBackground {
  name: string;
  kind: 'image' | 'video';
  path: string;
  width: number;
  height: number;
}

export interface GenerateResult {
  /** The still. */
  image: GeneratedBackground;
  /** The Ken Burns loop, when asked for. */
  loop?: GeneratedBackground;
  generator: { kind: GeneratorKind; url: string };
  seconds: number;
}

async function nameTaken(dir: string, name: string): Promise<boolean> {
  const lower = name.toLowerCase();
  return (await listBackgrounds(dir)).some((b) => b.name.toLowerCase() === lower);
}

/** Creates `final` from `tmp` only if nothing has that name: link() never overwrites. */
async function claim(tmp: string, final: string, name: string): Promise<void> {
  try {
    await link(tmp, final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw generatorError('name-taken', `${name}: already in the library`, { name });
    throw err;
  }
}

export async function generateBackground(req: GenerateRequest): Promise<GenerateResult> {
  const t0 = performance.now();
  const g = req.config.backgrounds.generator;
  const kind = req.kind ?? g.kind;
  const base = (req.url ?? g.url).trim().replace(/\/+$/, '');
  const loopS = req.loopS ?? g.loopS;
  const name = req.name.trim();
  if (!validBackgroundName(name) || (loopS > 0 && !validBackgroundName(loopName(name)))) {
    throw generatorError('bad-name', `bad background name "${req.name}"`, { name: req.name });
  }
  if (!req.prompt.trim()) throw generatorError('refused', 'empty prompt', { detail: 'the prompt is empty' });
  if (!base) throw generatorError('not-configured', 'backgrounds.generator.url is not set');
  if (!/^https?:\/\/[^/]/i.test(base)) throw generatorError('not-configured', `not an http(s) URL: ${base}`);

  const dir = backgroundsDir(req.config);
  // The defaults first: generated later, one of them could take the name we are about to use.
  await ensureDefaultBackgrounds(dir, { signal: req.signal });
  for (const n of loopS > 0 ? [name, loopName(name)] : [name]) {
    if (await nameTaken(dir, n)) throw generatorError('name-taken', `${n}: already in the library`, { name: n });
  }

  const http: GeneratorHttp = { base, deadline: AbortSignal.timeout(g.timeoutS * 1000), timeoutS: g.timeoutS, signal: req.signal };
  const bytes = kind === 'comfyui' ? await txt2imgComfy(http, req.prompt, g) : await txt2imgA1111(http, req.prompt, g);
  const ext = imageExtension(bytes);
  if (!ext) throw generatorError('bad-image', 'not a PNG, JPEG or WebP', { url: base, detail: bytes.length === 0 ? 'the picture is empty' : 'not a PNG, JPEG or WebP picture' });

  await mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.generate-${randomBytes(6).toString('hex')}${ext}`);
  const created: string[] = [];
  try {
    await writeFile(tmp, bytes);
    const probed = await probeBackgroundFile(tmp, { signal: req.signal }).catch((err: unknown) => {
      if (err instanceof PipelineError && err.code === 'BACKGROUND_MISSING') {
        throw generatorError('bad-image', `unreadable picture: ${String(err.params.reason ?? err.message)}`, { url: base, detail: String(err.params.reason ?? 'cannot be read') }, err);
      }
      throw err;
    });
    if (probed.kind !== 'image') throw generatorError('bad-image', 'not a still picture', { url: base, detail: 'not a still picture' });
    const image: GeneratedBackground = { name, kind: 'image', path: path.join(dir, `${name}${ext}`), width: probed.width, height: probed.height };
    let loop: GeneratedBackground | undefined;
    if (loopS > 0) {
      // Made before the still is claimed: a loop that fails leaves the library as it was.
      const loopTmp = path.join(dir, `.generate-${randomBytes(6).toString('hex')}.mp4`);
      try {
        await makeKenBurnsLoop(tmp, loopTmp, { seconds: loopS, width: probed.width, height: probed.height, format: probed.format, signal: req.signal });
        loop = { name: loopName(name), kind: 'video', path: path.join(dir, `${loopName(name)}.mp4`), width: 0, height: 0 };
        const p = await probeBackgroundFile(loopTmp, { signal: req.signal });
        loop.width = p.width;
        loop.height = p.height;
        await claim(loopTmp, loop.path, loop.name);
        created.push(loop.path);
      } finally {
        await rm(loopTmp, { force: true });
      }
    }
    await claim(tmp, image.path, name);
    created.push(image.path);
    return { image, ...(loop ? { loop } : {}), generator: { kind, url: base }, seconds: (performance.now() - t0) / 1000 };
  } catch (err) {
    for (const f of created) await rm(f, { force: true });
    throw err;
  } finally {
    await rm(tmp, { force: true });
  }
}
