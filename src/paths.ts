import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout (or installed package) root: config/ and tools/ live here whatever the cwd. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
