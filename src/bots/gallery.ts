/**
 * The background gallery: one JPEG with a thumbnail of each library background (the first frame of
 * the looping ones), in menu order, left to right and top to bottom; the caption numbers them.
 * One ffmpeg run; every background is opened with the library's safe input arguments.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { backgroundFileInputArgs, resolveBackground, type BackgroundEntry } from '../backgrounds/library.js';
import { PipelineError } from '../errors.js';

const THUMB = 160;

/** Pure: the filter graph that scales/crops each input to a square and tiles them `cols` wide. */
export function galleryFilter(count: number, cols: number): string {
  const rows = Math.max(1, Math.ceil(count / cols));
  const parts = Array.from(
    { length: count },
    (_, i) => `[${i}:v]trim=end_frame=1,scale=${THUMB}:${THUMB}:force_original_aspect_ratio=increase,crop=${THUMB}:${THUMB},setsar=1,format=yuv420p,setpts=N[t${i}]`,
  );
  const inputs = Array.from({ length: count }, (_, i) => `[t${i}]`).join('');
  return `${parts.join(';')};${inputs}concat=n=${count}:v=1:a=0,tile=${Math.min(cols, count)}x${rows}:padding=6:margin=6:color=white[out]`;
}

export async function renderGallery(names: readonly string[], dir: string, out: string, cols = 4): Promise<void> {
  if (names.length === 0) throw new PipelineError('BACKGROUND_MISSING', 'the background library is empty', { name: '', available: '' });
  const inputs: string[] = [];
  for (const name of names) {
    const bg = await resolveBackground(name, dir, { allowPaths: false });
    if (bg.kind === 'color') throw new PipelineError('BACKGROUND_MISSING', `${name} is not a library file`, { name, available: '' });
    inputs.push(...backgroundFileInputArgs(bg, { loop: false }));
  }
  await execa('ffmpeg', ['-v', 'error', '-nostdin', '-y', ...inputs, '-filter_complex', galleryFilter(names.length, cols), '-map', '[out]', '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-update', '1', out], {
    timeout: 60_000,
  });
}

/**
 * The gallery of these backgrounds, rendered once per library state: every menu shows it, and an
 * ffmpeg run per menu would cost more than the download it follows. The cache key covers names,
 * order, sizes and modification times, so /bg add, /bg remove or a replaced file renders anew.
 */
export async function cachedGallery(entries: readonly BackgroundEntry[], dir: string, cacheDir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const e of entries) {
    const st = await stat(e.path);
    hash.update(`${e.name}\0${path.basename(e.path)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  const key = hash.digest('hex').slice(0, 16);
  const file = path.join(cacheDir, `gallery-${key}.jpg`);
  if (await stat(file).then((st) => st.size > 0, () => false)) return file;
  await mkdir(cacheDir, { recursive: true });
  // Rendered beside and renamed into place: two menus at once never read half a JPEG.
  const tmp = path.join(cacheDir, `.gallery-${key}-${randomBytes(4).toString('hex')}.jpg`);
  try {
    await renderGallery(entries.map((e) => e.name), dir, tmp);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
  for (const old of await readdir(cacheDir)) {
    if (/^gallery-[0-9a-f]{16}\.jpg$/.test(old) && old !== path.basename(file)) await rm(path.join(cacheDir, old), { force: true });
  }
  return file;
}
