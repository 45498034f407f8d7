/**
 * What an administrator installs on the GPU host: the systemd unit (verified by systemd itself),
 * the environment template (every variable the README documents) and the licence files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const unitFile = path.join(root, 'deploy', 'dancelift.service');

/** systemd-analyze, installed from Debian's systemd package when missing and we may (root, apt). */
function systemdAnalyze(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'systemd'], { stdio: 'ignore', timeout: 300_000 });
    const again = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
    if (again.status === 0) return again.stdout.trim();
  }
  return null;
}

function verify(bin: string, file: string): { status: number | null; out: string } {
  const r = spawnSync(bin, ['verify', file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('deploy/dancelift.service', () => {
  let bin: string | null = null;
  beforeAll(() => {
    bin = systemdAnalyze();
    if (!bin) console.warn('systemd-analyze missing and not installable here (not root or no apt): verify tests skipped');
  }, 320_000);

  it('passes systemd-analyze verify without a warning', (ctx) => {
    if (!bin) return ctx.skip();
    const r = verify(bin, unitFile);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('is a check that can fail: a unit with a missing program and a bad key does not verify', (ctx) => {
    if (!bin) return ctx.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-unit-'));
    try {
      const broken = path.join(dir, 'dancelift.service');
      writeFileSync(broken, readFileSync(unitFile, 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node').replace('Restart=on-failure', 'Restart=sometimes'));
      const r = verify(bin, broken);
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(/nonexistent\/node/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("depends on Debian's redis-server unit and runs the service's own start command", () => {
    const unit = readFileSync(unitFile, 'utf8');
    expect(unit).toMatch(/^Requires=redis-server\.service$/m);
    expect(unit).toMatch(/^After=.*\bredis-server\.service\b/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \S+\/bin\/dancelift\.js start$/m);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/dancelift\.env$/m);
  });
});

describe('.env.example', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const example = readFileSync(path.join(root, '.env.example'), 'utf8');
  /**
   * Variables the README names in code spans: upper case with an underscore (not LANG, PATH, SIGTERM).
   * Install-time and test-only ones (npm's onnxruntime switch, the browser test's Chromium) are not
   * the service's settings, so they do not belong in its environment file.
   */
  const notService = /^(ONNXRUNTIME_NODE_INSTALL|CHROMIUM_PATH)$/;
  const documented = [...new Set([...readme.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)[=`]/g)].map((m) => m[1]))].filter((v) => !notService.test(v));
  const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));

  it('lists every variable the README documents', () => {
    expect(documented.length).toBeGreaterThan(20);
    expect(documented.filter((v) => !listed.has(v))).toEqual([]);
  });

  it('lists only variables dancelift reads', () => {
    const src = execFileSync('grep', ['-rhoE', '[A-Z][A-Z0-9]*_[A-Z0-9_]+', path.join(root, 'src')], { encoding: 'utf8' });
    const known = new Set(src.split('\n'));
    expect([...listed].filter((v) => !known.has(v))).toEqual([]);
  });
});

describe('licences', () => {
  it('LICENSE is the MIT licence package.json declares', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n[\s\S]*Permission is hereby granted, free of charge/);
  });

  it('THIRD_PARTY_NOTICES names each third-party part with its licence', () => {
    const notices = readFileSync(path.join(root, 'THIRD_PARTY_NOTICES'), 'utf8');
    expect(notices).toMatch(/Robust Video Matting[\s\S]*GPL-3\.0[\s\S]*never committed/);
    expect(notices).toMatch(/Real-ESRGAN weights[\s\S]*BSD-3-Clause/);
    expect(notices).toMatch(/realesrgan-ncnn-vulkan[\s\S]*MIT/);
    expect(notices).toMatch(/FFmpeg and x264[\s\S]*Debian/);
  });
});
