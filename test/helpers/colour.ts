import { execa } from 'execa';

/** ffprobe's colour tags of a file's first video stream. */
export async function colourTags(file: string): Promise<{ space: string; range: string; primaries: string; transfer: string }> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=color_space,color_range,color_primaries,color_transfer', '-of', 'json', file]);
  const s = (JSON.parse(stdout) as { streams: Array<Record<string, string>> }).streams[0] ?? {};
  return { space: s.color_space ?? 'unknown', range: s.color_range ?? 'unknown', primaries: s.color_primaries ?? 'unknown', transfer: s.color_transfer ?? 'unknown' };
}

const MATRIX: Record<string, string> = { bt709: 'bt709', smpte170m: 'bt601', bt470bg: 'bt601' };

/** Frame `index` as rgb24, converted with the matrix and range the file is tagged with (as a player does). */
export async function rgbAsTagged(file: string, index: number, width: number, height: number): Promise<Buffer> {
  const t = await colourTags(file);
  const matrix = MATRIX[t.space];
  if (!matrix) throw new Error(`${file}: untagged colour (${t.space})`);
  const range = t.range === 'pc' ? 'pc' : 'tv';
  const { stdout } = await execa('ffmpeg', [
    '-v', 'error', '-i', file,
    '-vf', `select=eq(n\\,${index}),scale=in_color_matrix=${matrix}:in_range=${range}:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24`,
    '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ], { encoding: 'buffer' });
  const buf = Buffer.from(stdout);
  if (buf.length !== width * height * 3) throw new Error(`${file}: ${buf.length} bytes, expected ${width * height * 3}`);
  return buf;
}

/**
 * Per bar: the mean colour of `b` over the pixels where `a` shows that bar, against the bar's own
 * colour in `a`; the largest difference of any channel of any bar, in levels. A bar is a colour of
 * `a` that fills a flat 5x5 neighbourhood (the inside of the bar: edges blur with 4:2:0 chroma);
 * bars smaller than `minPixels` are left out.
 */
export function barDiffs(a: Buffer, b: Buffer, width: number, height: number, minPixels = 20): { maxDiff: number; bars: number; worst: string } {
  const at = (x: number, y: number, c: number) => a[(y * width + x) * 3 + c];
  const groups = new Map<string, { want: number[]; sum: number[]; n: number }>();
  for (let y = 2; y < height - 2; y++) {
    for (let x = 2; x < width - 2; x++) {
      let flat = true;
      for (let dy = -2; dy <= 2 && flat; dy++) for (let dx = -2; dx <= 2 && flat; dx++) for (let c = 0; c < 3; c++) if (Math.abs(at(x + dx, y + dy, c) - at(x, y, c)) > 1) flat = false;
      if (!flat) continue;
      const want = [at(x, y, 0), at(x, y, 1), at(x, y, 2)];
      const key = want.map((v) => v >> 2).join(',');
      const g = groups.get(key) ?? { want, sum: [0, 0, 0], n: 0 };
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) g.sum[c] += b[i + c];
      g.n++;
      groups.set(key, g);
    }
  }
  let maxDiff = 0;
  let bars = 0;
  let worst = '';
  for (const g of groups.values()) {
    if (g.n < minPixels) continue;
    bars++;
    const got = g.sum.map((v) => v / g.n);
    const d = Math.max(...got.map((v, c) => Math.abs(v - g.want[c])));
    if (d >= maxDiff) {
      maxDiff = d;
      worst = `${g.want.join(',')} → ${got.map((v) => v.toFixed(1)).join(',')}`;
    }
  }
  return { maxDiff, bars, worst };
}
