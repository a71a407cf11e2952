#!/usr/bin/env node
'use strict';
// `npx forkwire init <dir>`: a new Rust worker project (a cargo crate on
// forkwire::serve, and a jest test running it in a WorkerPool).
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');

const pkg = require('../package.json');
const TEMPLATE = path.join(__dirname, '..', 'templates', 'worker');

const USAGE = `Usage: forkwire init <dir> [options]

Creates <dir> with a Rust worker for forkwire's WorkerPool: a cargo crate
built on forkwire::serve (typed requests and replies, errors with codes) and
a jest test that runs it in a pool. Then: cd <dir> && npm install && npm test

Options:
  --name <name>        crate, binary and npm package name (default: the folder's name)
  --forkwire <spec>    how the new package.json asks for forkwire: a version range,
                       or the tarball or folder you installed it from
                       (default: what this project's package.json says, else ^${pkg.version})
  --native <spec>      also depend on the addon's platform package with this spec,
                       e.g. file:../forkwire-linux-x64-gnu-${pkg.version}.tgz
                       (default: as this project's package.json says, if it lists one)
  -h, --help           this text
  -v, --version        forkwire's version`;

// Names cargo refuses for a package or a binary: keywords, the sysroot
// crates, and target/ folder names; and forkwire itself (the dependency).
const RESERVED = new Set([
  'abstract', 'as', 'async', 'await', 'become', 'box', 'break', 'const', 'continue', 'crate', 'do',
  'dyn', 'else', 'enum', 'extern', 'false', 'final', 'fn', 'for', 'gen', 'if', 'impl', 'in', 'let',
  'loop', 'macro', 'match', 'mod', 'move', 'mut', 'override', 'priv', 'pub', 'ref', 'return', 'self',
  'static', 'struct', 'super', 'trait', 'true', 'try', 'type', 'typeof', 'unsafe', 'unsized', 'use',
  'virtual', 'where', 'while', 'yield',
  'alloc', 'core', 'proc_macro', 'proc-macro', 'std', 'test',
  'build', 'deps', 'examples', 'incremental',
  'con', 'prn', 'aux', 'nul', 'com1', 'com2', 'com3', 'com4', 'lpt1', 'lpt2', 'lpt3',
  'node_modules', 'forkwire',
]);

class UsageError extends Error {}

/** Why `name` cannot be a crate (and npm package) name, or null if it can. */
function invalidName(name) {
  if (!name) return 'the name is empty';
  if (name.length > 64) return `"${name}" is longer than 64 characters (crates.io's limit)`;
  if (/[A-Z]/.test(name)) return `"${name}" has capital letters; npm package names are lowercase`;
  if (/^[0-9]/.test(name)) return `"${name}" starts with a digit; a crate name starts with a letter`;
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) {
    return `"${name}" is not a crate name: use lowercase ASCII letters, digits, "-" and "_", starting with a letter`;
  }
  if (RESERVED.has(name)) {
    return name === 'forkwire'
      ? '"forkwire" is the name of the dependency; pick another name'
      : `"${name}" is reserved (a Rust keyword, a standard crate or a cargo folder name)`;
  }
  return null;
}

/**
 * The project whose node_modules holds this copy of forkwire, and the
 * forkwire specs in its package.json: a new project installed from
 * tarballs next to it depends on the same tarballs.
 */
function installedFrom() {
  const root = path.resolve(__dirname, '..');
  if (path.basename(path.dirname(root)) !== 'node_modules') return null;
  const app = path.dirname(path.dirname(root));
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
  } catch {
    return null;
  }
  const deps = { ...manifest.devDependencies, ...manifest.optionalDependencies, ...manifest.dependencies };
  const native = Object.keys(deps).filter((name) => name.startsWith(`${pkg.name}-`) && platformPackages().includes(name));
  return { app, forkwire: deps[pkg.name], native: native.map((name) => [name, deps[name]]) };
}

function platformPackages() {
  return Object.keys(pkg.optionalDependencies || {}).concat(
    ((pkg.napi && pkg.napi.targets) || []).map((t) => `${pkg.name}-${platformOfTriple(t)}`),
  );
}

function platformOfTriple(triple) {
  const [cpu, , os, abi] = triple.split('-');
  const arch = { x86_64: 'x64', aarch64: 'arm64' }[cpu] || cpu;
  return os === 'linux' ? `linux-${arch}-${abi}` : `${os}-${arch}`;
}

/** A spec relative to `from` (file: and link: paths are), rewritten for `to`. */
function rebase(spec, from, to) {
  const m = /^(file:|link:)(.*)$/.exec(spec || '');
  if (!m) return spec;
  const target = path.resolve(from, m[2]);
  let rel = path.relative(to, target) || '.';
  if (!rel.startsWith('.') && !path.isAbsolute(rel)) rel = `./${rel}`;
  return `${m[1]}${rel}`;
}

/** A spec that names a path (a tarball or a folder) as npm writes it: file:<path>. */
function toSpec(spec) {
  if (/^(file|link):/.test(spec)) return spec;
  return /^[./~]/.test(spec) || /\.(tgz|tar\.gz|tar)$/i.test(spec) ? `file:${spec}` : spec;
}

/** The package a --native spec is for: given as <package>@<spec>, or read from a tarball's file name. */
function nativePackage(spec) {
  const named = /^(forkwire-[a-z0-9-]+?)@(.+)$/.exec(spec);
  if (named) return [named[1], toSpec(named[2])];
  const file = path.basename(spec.replace(/^(file|link):/, ''));
  const known = platformPackages().find((name) => file.startsWith(`${name}-`) || file === name);
  if (!known) {
    throw new UsageError(
      `--native ${spec}: cannot tell which platform package it is; write it as <package>@<spec>, ` +
        `e.g. ${pkg.name}-linux-x64-gnu@file:../${pkg.name}-linux-x64-gnu-${pkg.version}.tgz`,
    );
  }
  return [known, toSpec(spec)];
}

function init(argv, { cwd = process.cwd(), log = console.log } = {}) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      forkwire: { type: 'string' },
      native: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    log(USAGE);
    return null;
  }
  if (positionals.length !== 1) throw new UsageError(`forkwire init takes one folder, got ${positionals.length}\n\n${USAGE}`);
  const dir = path.resolve(cwd, positionals[0]);
  const name = values.name ?? path.basename(dir);
  const problem = invalidName(name);
  if (problem) {
    throw new UsageError(`${problem}.${values.name ? '' : ' Pass --name <name> to name the crate differently from its folder.'}`);
  }
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${positionals[0]} exists and is not a folder; nothing was written.`);
    if (fs.readdirSync(dir).length > 0) {
      throw new Error(`${positionals[0]} exists and is not empty; nothing was written. Choose another folder, or empty it.`);
    }
  }

  // How the new package.json asks for forkwire and, when it came from a
  // tarball, for its platform package.
  const from = installedFrom();
  let forkwireSpec = `^${pkg.version}`;
  let forkwireSource = 'this version';
  if (values.forkwire) {
    forkwireSpec = rebase(toSpec(values.forkwire), cwd, dir);
    forkwireSource = '--forkwire';
  } else if (from && /^(file|link):/.test(from.forkwire || '')) {
    forkwireSpec = rebase(from.forkwire, from.app, dir);
    forkwireSource = path.join(path.relative(cwd, from.app) || '.', 'package.json');
  }
  const native = {};
  if (values.native) {
    for (const spec of values.native) {
      const [name, s] = nativePackage(spec);
      native[name] = rebase(s, cwd, dir);
    }
  } else if (from && !values.forkwire) {
    for (const [n, s] of from.native) if (/^(file|link):/.test(s)) native[n] = rebase(s, from.app, dir);
  }

  const [major, minor] = pkg.version.split('.');
  const vars = {
    name,
    version: pkg.version,
    crateVersion: major === '0' ? `${major}.${minor}` : major,
  };
  const manifest = {
    name,
    version: '0.1.0',
    private: true,
    description: `${name}: a Rust worker for forkwire's WorkerPool`,
    scripts: {
      build: 'cargo build --release',
      pretest: 'cargo build --release',
      test: 'jest',
    },
    dependencies: { [pkg.name]: forkwireSpec },
    ...(Object.keys(native).length ? { optionalDependencies: native } : {}),
    devDependencies: { jest: (pkg.devDependencies && pkg.devDependencies.jest) || '^30.0.0' },
    jest: { testEnvironment: 'node', roots: ['<rootDir>/test'] },
  };

  const files = [];
  copyTemplate(TEMPLATE, dir, vars, files);
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  files.push('package.json');

  const shown = path.relative(cwd, dir) || '.';
  log(`Created ${shown}/ (crate and npm package "${name}"; forkwire ${forkwireSpec}, from ${forkwireSource}):
  Cargo.toml            the crate: forkwire (its sources, from node_modules/forkwire/crates/forkwire), serde, serde_json
  src/main.rs           the worker, on forkwire::serve: typed requests and replies, errors with codes
  test/worker.test.js   a jest test that runs it in a WorkerPool
  package.json          npm test = cargo build --release, then jest

Next (needs Rust ${rustVersion()} and Node.js ${(pkg.engines && pkg.engines.node) || ''}):
  cd ${shown}
  npm install     # forkwire (the addon, and the crate's sources inside it) and jest
  npm test        # builds target/release/${name}, then runs test/worker.test.js`);
  return { dir, name, files: files.sort(), manifest };
}

function rustVersion() {
  try {
    const toml = fs.readFileSync(path.join(__dirname, '..', 'crates', 'forkwire', 'Cargo.toml'), 'utf8');
    const m = /^rust-version\s*=\s*"([^"]+)"/m.exec(toml);
    return m ? `${m[1]}+` : '(stable)';
  } catch {
    return '(stable)';
  }
}

function copyTemplate(src, dest, vars, files, rel = '') {
  fs.mkdirSync(dest, { recursive: true });
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    // npm does not ship .gitignore files, and a Cargo.toml would make the
    // template a crate of forkwire's own workspace: both are stored renamed.
    const name = { gitignore: '.gitignore', 'Cargo.toml.tmpl': 'Cargo.toml' }[entry.name] || entry.name;
    if (entry.isDirectory()) {
      copyTemplate(from, path.join(dest, name), vars, files, path.join(rel, name));
    } else {
      const text = fs.readFileSync(from, 'utf8').replace(/\{\{(\w+)\}\}/g, (m, key) => (key in vars ? vars[key] : m));
      fs.writeFileSync(path.join(dest, name), text);
      files.push(path.join(rel, name));
    }
  }
}

function main(argv) {
  const [command, ...rest] = argv;
  try {
    if (command === 'init') {
      init(rest);
      return 0;
    }
    if (command === '-v' || command === '--version') {
      console.log(pkg.version);
      return 0;
    }
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  } catch (err) {
    const usage = err instanceof UsageError || (err && err.code && String(err.code).startsWith('ERR_PARSE_ARGS'));
    console.error(`forkwire: ${err.message}`);
    return usage ? 2 : 1;
  }
}

module.exports = { init, invalidName };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
