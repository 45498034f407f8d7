import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';

export const SECRET_FILE = 'link-secret';
const MIN_SECRET_CHARS = 32;

async function readSecret(file: string): Promise<string | undefined> {
  try {
    const text = (await fs.readFile(file, 'utf8')).trim();
    if (text.length < MIN_SECRET_CHARS) throw new Error(`${file}: link secret is too short (remove the file to make a new one)`);
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The secret that signs download links: config.web.linkSecret (DANCELIFT_LINK_SECRET) when set,
 * else `<dataDir>/link-secret`, created once (32 random bytes, hex, mode 0600). The file is written
 * aside and hard-linked into place, so it appears whole or not at all, and when two processes race
 * both end up with the same one. Links so survive restarts, and every host sharing the data dir
 * signs alike.
 */
export async function linkSecret(config: Config): Promise<string> {
  const configured = config.web.linkSecret.trim();
  if (configured) return configured;
  const file = path.join(config.dataDir, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing) return existing;

  await fs.mkdir(config.dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(32).toString('hex')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // Another process made it first: use theirs.
    } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      // No hard links on this file system: an exclusive create still never overwrites a secret.
      await fs.writeFile(file, await fs.readFile(tmp), { flag: 'wx', mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    } else {
      throw err;
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const secret = await readSecret(file);
  if (!secret) throw new Error(`${file}: could not create the link secret`);
  return secret;
}
