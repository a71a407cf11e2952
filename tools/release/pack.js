#!/usr/bin/env node
'use strict';
// npm run release:pack: the npm packages of a release, as tarballs.
//
// napi-rs's layout: one package per platform (npm/<platform>, holding
// forkwire.<platform>.node) and the main package, whose optionalDependencies
// name every configured platform package at the same version (what
// `napi pre-publish` writes at publish time). Steps:
//
//   1. the addon of each configured target: from --artifacts (napi's
//      artifacts/ folder, where CI puts binaries built on other machines), or
//      built here with `napi build` when the target is this machine's; other
//      targets are skipped (they cannot be cross-built here) and listed;
//   2. `napi artifacts` copies them into staged copies of npm/<platform>;
//   3. the main package is staged from the files `npm pack` would take from
//      the repository, with optionalDependencies added and checked: the
//      loader, lib/, types, bin/, templates/ and the crate's sources, no
//      tests, fixtures, examples or binaries;
//   4. `npm pack` writes each tarball to --out (default target/npm), with
//      release.json listing what was packed and what was skipped.
//
// The repository itself is never modified. Publishing is then
// `npm publish <tarball>` for each platform tarball, then the main one.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const NAPI = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');

const USAGE = `Usage: node tools/release/pack.js [--out <dir>] [--no-build] [--artifacts <dir>] [--all-targets]

  --out <dir>        where the tarballs go (default: target/npm)
  --no-build         do not build: take the addon \`npm run build\` already made
  --artifacts <dir>  .node files built elsewhere, e.g. by CI on an arm64 runner
                     (default: artifacts/, napi's convention; used if it exists)
  --all-targets      fail unless every configured target was packed (for a real release:
                     the main package names them all in optionalDependencies)`;

// What the main package must ship, and what it must not.
const REQUIRED_FILES = [
  'package.json', 'README.md', 'index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'binding.d.ts',
  'lib/pool.js', 'lib/errors.js', 'bin/forkwire.js',
  'templates/worker/Cargo.toml.tmpl', 'templates/worker/src/main.rs', 'templates/worker/test/worker.test.js',
  'crates/forkwire/Cargo.toml', 'crates/forkwire/src/lib.rs',
];
const FORBIDDEN_FILES = [
  /\.node$/, /^__test__\//, /(^|\/)fixtures\//, /^crates\/forkwire\/(tests|examples|benches|fuzz)\//,
  /^(bench|fuzz|target|src|tools|examples|npm|artifacts)\//, /(^|\/)Cargo\.lock$/, /\.tgz$/,
];

function parseOptions(argv) {
  const options = { out: path.join(ROOT, 'target', 'npm'), build: true, artifacts: null, quiet: false, allTargets: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') options.out = path.resolve(argv[++i]);
    else if (arg === '--no-build') options.build = false;
    else if (arg === '--artifacts') options.artifacts = path.resolve(argv[++i]);
    else if (arg === '--quiet') options.quiet = true;
    else if (arg === '--all-targets') options.allTargets = true;
    else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  if (!options.artifacts && fs.existsSync(path.join(ROOT, 'artifacts'))) options.artifacts = path.join(ROOT, 'artifacts');
  return options;
}

function run(command, args, { cwd = ROOT, quiet = false } = {}) {
  const r = spawnSync(command, args, { cwd, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const output = quiet ? `\n${r.stdout}${r.stderr}` : '';
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed with status ${r.status}${output}`);
  }
  return r.stdout;
}

/** `npm pack` of a folder into `dest`; returns the tarball's path and its files. */
function npmPack(dir, dest, { dryRun = false } = {}) {
  const args = ['pack', '--json', '--ignore-scripts', ...(dryRun ? ['--dry-run'] : ['--pack-destination', dest])];
  const out = execFileSync('npm', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out);
  return { tarball: dryRun ? null : path.join(dest, info.filename), files: info.files.map((f) => f.path), info };
}

function hostTriple() {
  try {
    return /^host: (.+)$/m.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1].trim();
  } catch {
    return null;
  }
}

function installedRustTargets() {
  try {
    return execFileSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function findFile(dir, name) {
  if (!dir || !fs.existsSync(dir)) return null;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return p;
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return null;
}

/** For Linux targets: the addon must be an ELF shared object of the target's machine. */
const ELF_MACHINES = { x64: 62, arm64: 183, ia32: 3, arm: 40, riscv64: 243, s390x: 22, ppc64: 21, loong64: 258 };
function checkBinary(file, target) {
  if (target.platform !== 'linux') return;
  const fd = fs.openSync(file, 'r');
  const header = Buffer.alloc(20);
  try {
    fs.readSync(fd, header, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  const machine = header.readUInt16LE(18);
  const expected = ELF_MACHINES[target.arch];
  if (expected !== undefined && machine !== expected) {
    const name = Object.keys(ELF_MACHINES).find((k) => ELF_MACHINES[k] === machine) || `machine ${machine}`;
    throw new Error(`${file} is a ${name} binary; ${target.triple} needs ${target.arch}`);
  }
}

/** Workspace inheritance (`edition.workspace = true`, `serde = { workspace = true }`) in a Cargo.toml. */
function inheritedKeys(toml) {
  const keys = [];
  let table = '';
  for (const line of toml.split('\n')) {
    const header = /^\s*\[+([^\]]+)\]+/.exec(line);
    if (header) table = header[1].trim();
    const dotted = /^\s*([A-Za-z0-9_-]+)\.workspace\s*=\s*true/.exec(line);
    const inline = /^\s*([A-Za-z0-9_-]+)\s*=\s*\{[^}]*\bworkspace\s*=\s*true/.exec(line);
    const m = dotted || inline;
    if (m) keys.push(`[${table}] ${m[1]}`);
  }
  return keys;
}

async function pack(options) {
  const log = options.quiet ? () => {} : (...a) => console.log(...a);
  const started = Date.now();
  const { readNapiConfig } = require('@napi-rs/cli');
  const config = await readNapiConfig(path.join(ROOT, 'package.json'));
  const pkg = config.packageJson;
  const { binaryName, packageName, targets } = config;
  const host = hostTriple();

  // 1. The addon of each target.
  const available = [];
  const skipped = [];
  let built = false;
  for (const target of targets) {
    const fileName = `${binaryName}.${target.platformArchABI}.node`;
    const fromArtifacts = findFile(options.artifacts, fileName);
    if (fromArtifacts) {
      available.push({ target, fileName, source: fromArtifacts, how: `from ${path.relative(ROOT, fromArtifacts)}` });
      continue;
    }
    if (target.triple === host) {
      if (options.build && !built) {
        log(`> napi build --platform --release (${target.triple}, this machine)`);
        run(process.execPath, [NAPI, 'build', '--platform', '--release', '--js', 'binding.js', '--dts', 'binding.d.ts'], { quiet: options.quiet });
        built = true;
      }
      const source = path.join(ROOT, fileName);
      if (!fs.existsSync(source)) {
        throw new Error(`${fileName} is not built: run \`npm run build\` first, or drop --no-build`);
      }
      available.push({ target, fileName, source, how: built ? 'built now' : `built before (${fileName})` });
      continue;
    }
    const rustTarget = installedRustTargets().includes(target.triple) ? 'installed' : 'not installed';
    skipped.push({
      target: target.triple,
      package: `${packageName}-${target.platformArchABI}`,
      reason:
        `cannot be built on this machine (host ${host || 'unknown'}; the ${target.triple} Rust target is ${rustTarget} ` +
        `and there is no cross toolchain): build it on a ${target.platformArchABI} machine with \`npm run build\` ` +
        `and put ${fileName} in artifacts/ (or --artifacts <dir>)`,
    });
  }
  if (available.length === 0) throw new Error('no addon for any configured target; nothing to pack');
  if (options.allTargets && skipped.length) {
    throw new Error(`--all-targets: no addon for ${skipped.map((s) => `${s.target} (${s.reason})`).join('; ')}`);
  }

  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'forkwire-release-'));
  try {
    fs.mkdirSync(options.out, { recursive: true });
    for (const f of fs.readdirSync(options.out)) {
      if ((f.startsWith(`${packageName}-`) && f.endsWith('.tgz')) || f === 'release.json') fs.rmSync(path.join(options.out, f));
    }
    const packed = [];

    // 2. Platform packages: staged npm/<platform> folders, filled by `napi artifacts`
    //    (told only about the targets at hand: it refuses to run with one missing).
    const platforms = path.join(stage, 'platforms');
    fs.mkdirSync(path.join(platforms, 'artifacts'), { recursive: true });
    fs.writeFileSync(
      path.join(platforms, 'package.json'),
      JSON.stringify({ ...pkg, napi: { ...pkg.napi, targets: available.map((a) => a.target.triple) } }, null, 2),
    );
    for (const { target, fileName, source } of available) {
      const dir = path.join(ROOT, 'npm', target.platformArchABI);
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      const expected = `${packageName}-${target.platformArchABI}`;
      if (manifest.name !== expected || manifest.version !== pkg.version || manifest.main !== fileName) {
        throw new Error(
          `npm/${target.platformArchABI}/package.json says ${manifest.name}@${manifest.version} (main ${manifest.main}); ` +
            `expected ${expected}@${pkg.version} (main ${fileName}): run \`npx napi version\` (or \`npx napi create-npm-dirs\`)`,
        );
      }
      checkBinary(source, target);
      fs.cpSync(dir, path.join(platforms, 'npm', target.platformArchABI), { recursive: true });
      fs.copyFileSync(source, path.join(platforms, 'artifacts', fileName));
    }
    run(process.execPath, [NAPI, 'artifacts', '--cwd', platforms, '--output-dir', 'artifacts', '--npm-dir', 'npm'], { quiet: true });
    for (const { target, fileName, how } of available) {
      const { tarball, files } = npmPack(path.join(platforms, 'npm', target.platformArchABI), options.out);
      if (!files.includes(fileName)) throw new Error(`${path.basename(tarball)} does not contain ${fileName}`);
      packed.push({ name: `${packageName}-${target.platformArchABI}`, target: target.triple, tarball, addon: how });
    }

    // 3. The main package: the files `npm pack` takes from the repository,
    //    with the platform packages as optionalDependencies.
    const main = path.join(stage, 'main');
    const { files } = npmPack(ROOT, null, { dryRun: true });
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(main, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(main, f));
    }
    const optionalDependencies = { ...pkg.optionalDependencies };
    for (const target of targets) optionalDependencies[`${packageName}-${target.platformArchABI}`] = pkg.version;
    fs.writeFileSync(path.join(main, 'package.json'), `${JSON.stringify({ ...pkg, optionalDependencies }, null, 2)}\n`);

    // The crate's sources must build as a dependency of a crate outside
    // this workspace: no workspace inheritance, and cargo reads the manifest.
    const crateToml = path.join(main, 'crates', 'forkwire', 'Cargo.toml');
    const inherited = inheritedKeys(fs.readFileSync(crateToml, 'utf8'));
    if (inherited.length) {
      throw new Error(
        `crates/forkwire/Cargo.toml inherits from the workspace (${inherited.join(', ')}); ` +
          'outside this repository (node_modules/forkwire/crates/forkwire) cargo cannot resolve that: spell the values out',
      );
    }
    run('cargo', ['metadata', '--offline', '--no-deps', '--format-version', '1', '--manifest-path', crateToml], { quiet: true });

    const mainPack = npmPack(main, options.out);
    const missing = REQUIRED_FILES.filter((f) => !mainPack.files.includes(f));
    const extra = mainPack.files.filter((f) => FORBIDDEN_FILES.some((re) => re.test(f)));
    if (missing.length || extra.length) {
      throw new Error(
        `${path.basename(mainPack.tarball)}: ${missing.length ? `missing ${missing.join(', ')}` : ''}` +
          `${missing.length && extra.length ? '; ' : ''}${extra.length ? `should not contain ${extra.join(', ')}` : ''}`,
      );
    }
    packed.unshift({ name: packageName, tarball: mainPack.tarball, files: mainPack.files.length, optionalDependencies });

    // 4. What was made.
    const release = { version: pkg.version, packages: packed, skipped };
    fs.writeFileSync(path.join(options.out, 'release.json'), `${JSON.stringify(release, null, 2)}\n`);
    log(`forkwire ${pkg.version}: ${packed.length} tarballs in ${path.relative(process.cwd(), options.out) || '.'} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    for (const p of packed) {
      log(`  ${path.basename(p.tarball)}${p.target ? `  (${p.target}, addon ${p.addon})` : `  (${p.files} files; optionalDependencies ${Object.keys(p.optionalDependencies).join(', ')})`}`);
    }
    for (const s of skipped) log(`  skipped ${s.package}: ${s.reason}`);
    log(`Install them elsewhere with: npm install ${packed.map((p) => p.tarball).join(' ')}`);
    return release;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

module.exports = { pack, inheritedKeys };

if (require.main === module) {
  pack(parseOptions(process.argv.slice(2))).catch((err) => {
    console.error(`release:pack: ${err.message}`);
    process.exitCode = 1;
  });
}
