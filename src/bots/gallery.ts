/**
 * The background gallery as the bots show it: the library's pictures in menu order (the caption
 * numbers them), rendered by src/media/gallery.ts and cached per library state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { backgroundFileInputArgs, resolveBackground, type BackgroundEntry } from '../backgrounds/library.js';
import { PipelineError } from '../errors.js';
import { renderGalleryPicture } from '../media/gallery.js';

/** The gallery of these library names, in this order (every file opened with the library's guards). */
export async function renderGallery(names: readonly string[], dir: string, out: string, cols = 4): Promise<void> {
  const inputs: string[][] = [];
  for (const name of names) {
    const bg = await resolveBackground(name, dir, { allowPaths: false });
    if (bg.kind === 'color') throw new PipelineError('BACKGROUND_MISSING', `${name} is not a library file`, { name, available: '' });
    inputs.push(backgroundFileInputArgs(bg, { loop: false }));
  }
  await renderGalleryPicture(inputs, out, cols);
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
