/**
 * /bg generate PROMPT from chat: the library name made from the prompt, and the library call
 * against a fake Stable Diffusion server (AUTOMATIC1111's API), answered in the user's language.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backgroundsDir } from '../src/backgrounds/library.js';
import { generateFromChat, nameFromPrompt, validBackgroundName } from '../src/bots/library-admin.js';
import { plainText } from '../src/bots/rich.js';
import { botTexts } from '../src/bots/texts.js';
import type { Config } from '../src/config/schema.js';
import { startFakeA1111, type FakeServer } from './fakes/stable-diffusion.js';
import { testConfig } from './helpers/fixtures.js';
import { tempDir } from './helpers/media.js';

describe('nameFromPrompt', () => {
  it('keeps letters, digits and spaces, at most 30 characters cut at a word, and is always a valid name with its -loop twin', () => {
    expect(nameFromPrompt('a neon city at night, rain!')).toBe('a neon city at night rain');
    expect(nameFromPrompt('  ../../etc/passwd  ')).toBe('etc passwd');
    expect(nameFromPrompt('a very long prompt about a sunny beach with palm trees')).toBe('a very long prompt about a');
    expect(nameFromPrompt('霓虹城市的夜晚，下着雨')).toBe('霓虹城市的夜晚 下着雨');
    expect(nameFromPrompt('!!!')).toBe('generated');
    for (const p of ['a neon city at night, rain!', '  ../../etc/passwd  ', 'x'.repeat(80), '霓虹城市的夜晚，下着雨', '-- dash first']) {
      expect(validBackgroundName(nameFromPrompt(p))).toBe(true);
      expect(validBackgroundName(`${nameFromPrompt(p)}-loop`)).toBe(true);
    }
  });
});

describe('/bg generate', () => {
  const tmp = tempDir('dancelift-bggen-');
  let sd: FakeServer;
  let config: Config;
  beforeAll(async () => {
    sd = await startFakeA1111();
    config = testConfig(tmp.dir, { DANCELIFT_BACKGROUNDS_SIZE: '96' });
    config.backgrounds.generator = { ...config.backgrounds.generator, kind: 'automatic1111', url: sd.url, width: 96, height: 64, loopS: 0 };
  });
  afterAll(async () => {
    await sd?.close();
    tmp.remove();
  });

  it('adds the picture under a name made from the prompt; a failing server is a failure message in the user language', async () => {
    expect(await generateFromChat(config, 'a neon city, rain', 'en')).toEqual(botTexts('en').bgAdded('a neon city rain'));
    expect(readdirSync(backgroundsDir(config)).filter((f) => f.startsWith('a neon city rain'))).toHaveLength(1);
    expect(sd.requests.at(-1)).toMatchObject({ path: '/sdapi/v1/txt2img', body: { prompt: 'a neon city, rain' } });
    // the same prompt again: the name is taken
    const taken = await generateFromChat(config, 'a neon city, rain', 'zh');
    expect(plainText(taken)).toMatch(/^❌ .*a neon city rain/);
    sd.behave('fail');
    const failed = await generateFromChat(config, 'a forest', 'zh');
    expect(plainText(failed)).toMatch(/^❌ .*[\u4e00-\u9fff]/);
    expect(readdirSync(backgroundsDir(config)).some((f) => f.startsWith('a forest'))).toBe(false);
    expect(await generateFromChat(config, '   ', 'en')).toBe(botTexts('en').bgUsage);
  });
});
