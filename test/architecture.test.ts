import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cyclesOf, folderOf, importGraph, type ImportEdge } from './helpers/imports.js';

/**
 * The rooms of src/ and the one-way arrows between them (README, "Layout"). A folder may import
 * from folders below its own row, never from its row or above:
 *
 *   cli, bench         entry points: the command line and the benchmark
 *   bots               Telegram and Discord (the CLI hands their role to the service)
 *   service            wires the roles together
 *   web                links, the web role and its watch page
 *   i18n               user-facing texts: words what the layers below report
 *   queue              job schemas, producer, worker, delivery, limits
 *   config             the one config schema: composes the engines' settings
 *   pipeline           decode, the engines and their registry, compose
 *   backgrounds        the background library
 *   media              probing, fitting, colour tags
 *   redis, storage     the Redis connection; the data dir
 *   machine            locating and checking tools, doctor, provisioning, model files
 *   (root)             errors.ts, log.ts, paths.ts, locale.ts: every layer may import them
 */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'bench'],
  ['bots'],
  ['service'],
  ['web'],
  ['i18n'],
  ['queue'],
  ['config'],
  ['pipeline'],
  ['backgrounds'],
  ['media'],
  ['redis', 'storage'],
  ['machine'],
  ['(root)'],
];

/** Edges allowed against the order, each with its reason: none today. */
const ALLOWED = new Set<string>();

const src = path.join(import.meta.dirname, '..', 'src');

/** The config's shape may be read (type-only) anywhere: each layer names the settings it takes. */
const counts = (e: ImportEdge) => !(e.typeOnly && e.to === path.join('config', 'schema.ts'));

function folderEdges(): Map<string, string[]> {
  const byPair = new Map<string, string[]>();
  for (const e of importGraph(src).filter(counts)) {
    const [a, b] = [folderOf(e.from), folderOf(e.to)];
    if (a === b) continue;
    const key = `${a} -> ${b}`;
    byPair.set(key, [...(byPair.get(key) ?? []), `${e.from} imports ${e.to}${e.typeOnly ? ' (type)' : ''}`]);
  }
  return byPair;
}

const rank = (folder: string) => LAYERS.findIndex((row) => row.includes(folder));

describe('the folders of src/', () => {
  const edges = folderEdges();

  it('each has its place in the layer order', () => {
    const folders = [...new Set([...edges.keys()].flatMap((k) => k.split(' -> ')))];
    expect(folders.filter((f) => rank(f) < 0)).toEqual([]);
  });

  it('import only downwards', () => {
    const upward = [...edges]
      .filter(([key]) => {
        const [a, b] = key.split(' -> ');
        return rank(a) >= rank(b) && !ALLOWED.has(key);
      })
      .map(([key, files]) => `${key}: ${files.join(', ')}`);
    expect(upward).toEqual([]);
  });

  it('form no import cycle', () => {
    const cycles = cyclesOf([...edges.keys()].map((k) => k.split(' -> ') as [string, string]));
    expect(cycles).toEqual([]);
  });

  it('the walker sees static, type-only and dynamic imports (else the checks above prove nothing)', () => {
    const all = importGraph(src);
    const has = (from: string, to: string, typeOnly: boolean) => all.some((e) => e.from === from && e.to === to && e.typeOnly === typeOnly);
    expect(has(path.join('config', 'schema.ts'), path.join('pipeline', 'engines', 'registry.ts'), false)).toBe(true);
    expect(has(path.join('pipeline', 'engines', 'registry.ts'), path.join('machine', 'doctor.ts'), true)).toBe(true);
    expect(has(path.join('pipeline', 'engines', 'registry', 'upscale-onnx.ts'), path.join('pipeline', 'engines', 'ort', 'upscale-onnx-threaded.ts'), false)).toBe(true);
    expect(cyclesOf([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])).toEqual([['a', 'b', 'c']]);
  });
});

/**
 * src/media/ is the one home of ffmpeg and ffprobe (README, "Layout"): everything else runs the
 * binary media/ffmpeg.ts resolves and names it by its constants. src/ffmpeg-names.ts holds those
 * names for machine/tools.ts, which locates the binaries and sits below media (media re-exports them).
 */
describe('ffmpeg and ffprobe', () => {
  const NAMED = /'ffmpeg'|'ffprobe'|"ffmpeg"|"ffprobe"|execa\(\s*['"`]ff/;
  const HOME = [path.join('media') + path.sep, 'ffmpeg-names.ts'];

  function tsFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? tsFiles(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
    );
  }

  it('are named and run only in src/media/', () => {
    const hits = tsFiles(src)
      .map((f) => path.relative(src, f))
      .filter((rel) => !HOME.some((h) => rel.startsWith(h)))
      .flatMap((rel) =>
        readFileSync(path.join(src, rel), 'utf8')
          .split('\n')
          .flatMap((line, i) => (NAMED.test(line) ? [`src/${rel}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(hits).toEqual([]);
  });

  it('the check sees a bare name (else it proves nothing)', () => {
    expect(NAMED.test("execa('ffmpeg', ['-version'])")).toBe(true);
    expect(NAMED.test("const ffprobe = opts.ffprobe ?? 'ffprobe';")).toBe(true);
    expect(NAMED.test('const bin = ffmpegBin();')).toBe(false);
  });
});

describe('the runtime build', () => {
  it('leaves the bench out: `npm run build` compiles no file of src/bench (npm run build:bench adds them)', async () => {
    const root = path.join(import.meta.dirname, '..');
    const list = async (project: string) =>
      (await execa('npx', ['tsc', '-p', project, '--listFilesOnly'], { cwd: root })).stdout
        .split('\n')
        .map((f) => path.relative(root, f.trim()))
        .filter((f) => f.startsWith('src' + path.sep));
    const [runtime, bench] = await Promise.all([list('tsconfig.json'), list('tsconfig.bench.json')]);
    expect(runtime.filter((f) => f.startsWith(path.join('src', 'bench')))).toEqual([]);
    expect(runtime).toContain(path.join('src', 'cli', 'main.ts'));
    expect(bench).toContain(path.join('src', 'bench', 'main.ts'));
    expect(bench).toContain(path.join('src', 'bench', 'gpu-check.ts'));
  }, 120_000);
});

describe('one of each', () => {
  const grepSrc = (re: RegExp) =>
    (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => re.test(readFileSync(path.join(src, f), 'utf8')))
      .sort();

  it('protobuf writer: only machine/provision/onnx-proto.ts encodes varints (doctor writes its tiny model with it)', () => {
    expect(grepSrc(/function varint\(/)).toEqual([path.join('machine', 'provision', 'onnx-proto.ts')]);
  });

  it('no program in a string: nothing runs `node -e` (doctor runs machine/ort-probe-child.ts compiled)', () => {
    expect(grepSrc(/\[\s*'-e'\s*,/)).toEqual([]);
  });
});
