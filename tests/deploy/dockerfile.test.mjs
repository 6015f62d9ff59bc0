// deploy/Dockerfile's runtime stage installs the Debian package of every shared library
// the tailgate binary links directly (readelf's NEEDED entries, resolved by ldd, owned per
// dpkg -S): a dependency added to meson.build without its runtime package would otherwise
// build fine and fail only when the image starts. libc6 and libcrypt1 are essential in
// Debian 12, so every image has them. The libraries tailgate dlopens on first use
// (libgrpc, libcurl: core/tg_lazy_*.c) are not NEEDED entries; their sonames are in the
// build's tg_sonames.h, next to the binary, and their packages are checked the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.TAILGATE_BIN ? path.resolve(process.env.TAILGATE_BIN) : path.join(ROOT, 'build', 'tailgate');
const ESSENTIAL = new Set(['libc6', 'libcrypt1']);

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });

// The package owning a library file; dpkg knows it under /lib or /usr/lib (merged /usr).
function owner(file) {
  const real = fs.realpathSync(file);
  const candidates = [real, real.replace(/^\/usr\/lib\//, '/lib/'), file,
    file.replace(/^\/usr\/lib\//, '/lib/'), file.replace(/^\/lib\//, '/usr/lib/')];
  for (const c of candidates) {
    const r = run('dpkg', ['-S', c]);
    if (r.status === 0) return r.stdout.split(':')[0].trim();
  }
  return null;
}

// Packages named after `apt-get install` in the Dockerfile's last FROM stage.
function runtimePackages(dockerfile) {
  const stages = dockerfile.split(/^FROM /m);
  const last = stages[stages.length - 1].replace(/\\\n/g, ' ');
  const m = last.match(/apt-get install[^&]*/);
  assert.ok(m, 'the runtime stage runs apt-get install');
  return new Set(m[0].split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w) &&
    !['apt-get', 'install'].includes(w)));
}

// The sonames tailgate dlopens (TG_*_SONAME in the build directory's tg_sonames.h).
function lazySonames() {
  const header = path.join(path.dirname(BIN), 'tg_sonames.h');
  assert.ok(fs.existsSync(header), `${header} exists (meson writes it next to the binary)`);
  return [...fs.readFileSync(header, 'utf8').matchAll(/#define TG_\w+_SONAME "([^"]+)"/g)]
    .map((m) => m[1]);
}

// Where the dynamic loader finds a soname (ldconfig's cache, as dlopen searches it).
function ldconfigPath(soname) {
  for (const line of run('/sbin/ldconfig', ['-p']).stdout.split('\n')) {
    const m = line.trim().match(/^(\S+) \(([^)]*)\) => (\S+)$/);
    if (m && m[1] === soname) return m[3];
  }
  return null;
}

test('the runtime image installs the package of every library tailgate dlopens', () => {
  const sonames = lazySonames();
  assert.deepEqual(sonames.map((s) => s.replace(/\.so\..*/, '')).sort(), ['libcurl', 'libgrpc']);
  const packages = runtimePackages(fs.readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));
  const missing = [];
  for (const soname of sonames) {
    const file = ldconfigPath(soname);
    assert.ok(file, `ldconfig knows ${soname}`);
    const pkg = owner(file);
    assert.ok(pkg, `dpkg knows the package of ${file}`);
    if (!packages.has(pkg)) missing.push(`${soname} (${pkg})`);
  }
  assert.deepEqual(missing, [], 'deploy/Dockerfile runtime stage lacks these packages');
  // And they really are not linked: a NEEDED entry would load them in every process.
  const needed = run('readelf', ['-d', BIN]).stdout;
  for (const soname of sonames) assert.ok(!needed.includes(`[${soname}]`), `${soname} is not NEEDED`);
});

test('the runtime image installs the package of every library tailgate links', () => {
  const needed = run('readelf', ['-d', BIN]).stdout.split('\n')
    .map((l) => l.match(/Shared library: \[(.+)\]/)).filter(Boolean).map((m) => m[1]);
  assert.ok(needed.length > 5, `readelf found the NEEDED entries of ${BIN}`);
  const resolved = new Map(run('ldd', [BIN]).stdout.split('\n')
    .map((l) => l.trim().match(/^(\S+) => (\S+)/)).filter(Boolean).map((m) => [m[1], m[2]]));
  const packages = runtimePackages(fs.readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));
  const missing = [];
  for (const lib of needed) {
    const file = resolved.get(lib);
    assert.ok(file, `ldd resolves ${lib}`);
    const pkg = owner(file);
    assert.ok(pkg, `dpkg knows the package of ${file}`);
    if (!ESSENTIAL.has(pkg) && !packages.has(pkg)) missing.push(`${lib} (${pkg})`);
  }
  assert.deepEqual(missing, [], 'deploy/Dockerfile runtime stage lacks these packages');
});
