import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { pipelineSettings } from '../src/pipeline/settings.js';

describe('pipelineSettings', () => {
  it("keeps the pipeline's part of the config and drops tokens, secrets and queue settings", () => {
    const config = loadConfig({ env: { TELEGRAM_BOT_TOKEN: '123:secret', DISCORD_TOKEN: 'discord-secret', DANCELIFT_LINK_SECRET: 'link-secret-link-secret-link-secret' } });
    expect(config.telegram.token).toBe('123:secret');
    const narrowed = pipelineSettings(config);
    expect(Object.keys(narrowed).sort()).toEqual(['backgrounds', 'dataDir', 'encode', 'matte', 'pipeline', 'provision', 'reframe', 'upscale']);
    expect(narrowed.upscale).toBe(config.upscale);
    expect(JSON.stringify(narrowed)).not.toMatch(/secret/);
  });
});
