import { backgroundsDir, ensureDefaultBackgrounds, resolveBackground, type Background } from './library.js';

export { backgroundsDir };

/** Makes sure the library exists (first run), then resolves a name, path or colour. */
export async function prepareBackground(spec: string, dir: string): Promise<Background> {
  await ensureDefaultBackgrounds(dir);
  return resolveBackground(spec, dir);
}
