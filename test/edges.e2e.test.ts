import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { clips, tempDir } from './helpers/media.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { magentaRim, onMagenta } from './helpers/edges.js';

const tmp = tempDir('dancelift-edges-');
afterAll(() => tmp.remove());
const dirFor = (name: string) => {
  const d = path.join(tmp.dir, name);
  mkdirSync(d, { recursive: true });
  return d;
};

describe('clean edges: no rim of the old background', () => {
  it('a dancer composed on magenta, then run again onto white, keeps ≤ 20 % of the magenta in the edge band', async () => {
    // The portrait clip with music, the closest to a Viggle video: 12 frames at 144x256.
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '144' });
    const clip = await makeClip(tmp.dir, 'musepose-edges.mp4', clips.musepose, { seconds: 0.5, width: 144, height: 256, start: 4 });
    const first = await onMagenta(clip, dirFor('musepose'), config);
    const before = await magentaRim(first, dirFor('musepose'), config, 'off');
    const after = await magentaRim(first, dirFor('musepose'), config, 'fusion');
    console.log(`musepose 144x256: magenta left in the edge band ${(before.magentaLeft * 100).toFixed(1)} % without cleaning, ${(after.magentaLeft * 100).toFixed(1)} % with (${after.bandPixels} band pixels)`);
    expect(before.bandPixels).toBeGreaterThan(500);
    // Without cleaning the rim is there (the measure sees it: more than the goal)...
    expect(before.magentaLeft).toBeGreaterThan(0.25);
    // ...and cleaning takes most of it out.
    expect(after.magentaLeft).toBeLessThanOrEqual(0.2);
    expect(after.magentaLeft).toBeLessThanOrEqual(before.magentaLeft * 0.6);
  }, 900_000);

  const measure = process.env.DANCELIFT_MEASURE_EDGES === '1';
  it.runIf(measure)('measures every method on the real clips (DANCELIFT_MEASURE_EDGES=1)', async () => {
    const config = testConfig(tmp.dir, { DANCELIFT_MAX_SHORT_SIDE: '144' });
    const inputs = {
      musepose: await makeClip(tmp.dir, 'musepose.mp4', clips.musepose, { seconds: 0.5, width: 144, height: 256, start: 4 }),
      openpose: await makeClip(tmp.dir, 'openpose.mp4', clips.openpose, { seconds: 0.2, width: 256, height: 144 }),
      intel: await makeClip(tmp.dir, 'intel.mp4', clips.intel, { seconds: 1, width: 256, height: 144, start: 20 }),
      girl: clips.girl,
    };
    for (const [name, file] of Object.entries(inputs)) {
      const row: string[] = [];
      const first = await onMagenta(file, dirFor(name), config);
      for (const method of ['off', 'fusion', 'unmix'] as const) {
        const m = await magentaRim(first, dirFor(name), config, method);
        row.push(`${method} ${(m.magentaLeft * 100).toFixed(1)} %`);
      }
      console.log(`EDGES ${name}: ${row.join(', ')}`);
    }
  }, 1_800_000);
  if (!measure) console.log('edges: the per-clip measurement of every method is skipped (set DANCELIFT_MEASURE_EDGES=1 to run it)');
});
