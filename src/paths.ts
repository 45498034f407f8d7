import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The checkout (or installed package) root: config/ and tools/ live here whatever the cwd. The
 * nearest folder up with a package.json, so it holds from src/ (tests), dist/ and the bundled
 * gpu-check (scripts/gpu-pack), whose files sit at other depths.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..');
  }
}

export const packageRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)));
