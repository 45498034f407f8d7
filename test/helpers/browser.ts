import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium (apt), never a downloaded browser; CHROMIUM_PATH overrides. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export function noBrowserReason(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  return `no Chromium at ${chromiumPath}: install Debian's (apt-get install chromium; scripts/setup does it as root) or set CHROMIUM_PATH`;
}

/**
 * Headless Chromium with a fresh profile that makes no connection of its own (the test network
 * is closed: background fetches, QUIC, component updates and sync would only hang or fail).
 */
export async function launchChromium(opts: { locale?: string; viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'dancelift-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    locale: opts.locale ?? 'en-US',
    viewport: opts.viewport ?? { width: 390, height: 844 },
    acceptDownloads: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-proxy-server',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
