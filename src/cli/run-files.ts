import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const VIDEO_EXTENSIONS = new Set(['.mp4', '.mov', '.m4v', '.mkv', '.webm', '.avi', '.gif', '.flv', '.ts', '.mpg', '.mpeg', '.wmv', '.3gp']);

/**
 * Expands the command line's files and folders into the list of inputs, in order. Folders give
 * their video files (by extension, not recursive, sorted); a named file is always taken as it is —
 * ffprobe, not its name, decides whether it is a video. Missing paths stay in the list so that they
 * are reported like any other failure instead of stopping the batch.
 */
export async function expandInputs(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const st = await stat(p).catch(() => null);
    if (st?.isDirectory()) {
      const names = (await readdir(p)).filter((n) => !n.startsWith('.') && VIDEO_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
      out.push(...names.map((n) => path.join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Pure: "clips/My Dance.mov" → "<out>/My Dance.enhanced.mp4". */
export function outputPathFor(input: string, outDir: string, suffix = 'enhanced', ext = '.mp4'): string {
  const stem = path.basename(input, path.extname(input)).replace(/\.cutout$/, '');
  return path.join(outDir, `${stem}.${suffix}${ext}`);
}

export function cutoutPathFor(input: string, outDir: string): string {
  return outputPathFor(input, outDir, 'cutout', '.mkv');
}
