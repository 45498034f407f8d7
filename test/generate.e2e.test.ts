import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultBackgrounds } from '../src/backgrounds/library.js';
import { downUrl, startFakeA1111, type FakeServer } from './fakes/stable-diffusion.js';
import { repoRoot, tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-gen-cli-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const cli = path.join(repoRoot, 'bin', 'dancelift.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  execa('node', [cli, ...args], { cwd: tmp.dir, reject: false, env: { DANCELIFT_DATA_DIR: work('data'), LANG: 'en_US.UTF-8', ...env } });

let sd: FakeServer;
beforeAll(async () => {
  sd = await startFakeA1111();
  // The generator's settings come from a config file, as a user would write them (small pictures: the fake draws them).
  writeFileSync(work('sd.yaml'), `backgrounds:\n  generator:\n    kind: automatic1111\n    url: ${sd.url}\n    width: 96\n    height: 64\n`);
  // Small defaults: the full-size ones take a minute to draw on this machine and prove nothing here.
  await ensureDefaultBackgrounds(work('data', 'backgrounds'), { size: 64 });
});
afterAll(async () => {
  await sd?.close();
  tmp.remove();
});

describe('dancelift backgrounds generate (the CLI)', () => {
  it('against the fake AUTOMATIC1111 server: adds a background that `backgrounds --json` lists', async () => {
    const before = JSON.parse((await run(['backgrounds', '--json'])).stdout) as Array<{ name: string }>;
    expect(before.map((b) => b.name)).not.toContain('disco');
    const r = await run(['backgrounds', 'generate', 'a disco floor with coloured lights', '--name', 'disco', '--config', work('sd.yaml'), '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({ ok: true, image: { name: 'disco', kind: 'image', width: 96, height: 64 }, generator: { kind: 'automatic1111', url: sd.url } });
    expect(sd.requests.at(-1)).toMatchObject({ method: 'POST', path: '/sdapi/v1/txt2img', body: { prompt: 'a disco floor with coloured lights', width: 96, height: 64 } });
    const list = JSON.parse((await run(['backgrounds', '--json'])).stdout) as Array<{ name: string; kind: string; path: string }>;
    expect(list.find((b) => b.name === 'disco')).toEqual({ name: 'disco', kind: 'image', path: work('data', 'backgrounds', 'disco.png') });
    // And it can be used at once by name.
    const text = await run(['backgrounds']);
    expect(text.stdout).toMatch(/^disco\s+image\s/m);
  });

  it('a server that is down: one clear line, in English or Chinese, exit 1', async () => {
    const url = await downUrl();
    const en = await run(['backgrounds', 'generate', 'x', '--name', 'nope', '--url', url]);
    expect(en.exitCode).toBe(1);
    expect(en.stderr.trim()).toMatch(new RegExp(`^✘ The image generator at ${url.replace(/\./g, '\\.')} does not answer`));
    const zh = await run(['backgrounds', 'generate', 'x', '--name', 'nope', '--url', url, '--json'], { LANG: 'zh_CN.UTF-8' });
    expect(zh.exitCode).toBe(1);
    expect(JSON.parse(zh.stdout)).toEqual({ ok: false, error: expect.stringContaining('无法连接') });
  });

  it('usage errors: no name, no prompt', async () => {
    const noName = await run(['backgrounds', 'generate', 'a beach']);
    expect(noName.exitCode).toBe(2);
    expect(noName.stderr).toMatch(/needs --name NAME/);
    const noPrompt = await run(['backgrounds', 'generate', '--name', 'x']);
    expect(noPrompt.exitCode).toBe(2);
    expect(noPrompt.stderr).toMatch(/takes one prompt/);
  });
});
