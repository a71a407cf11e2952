'use strict';
// forkwire's public JavaScript API. The native addon is loaded through the
// loader that `napi build` generates (binding.js); when it finds no addon
// for this machine, the error says which one and how to get it.
const { codes, ForkwireError, WorkerError } = require('./lib/errors');

// Before lib/pool, which requires binding.js itself: a failure is reported here.
const binding = loadBinding();
const { WorkerPool } = require('./lib/pool');

/** The version of the loaded native addon. */
function nativeVersion() {
  return binding.nativeVersion();
}

module.exports = { WorkerPool, ForkwireError, WorkerError, codes, nativeVersion };

function loadBinding() {
  try {
    return require('./binding.js');
  } catch (err) {
    throw nativeLoadError(err);
  }
}

/**
 * The generated loader's error blames npm whatever happened. Say instead
 * what is missing (or what failed to load) and how to get it:
 * ERR_FORKWIRE_NATIVE_MISSING when no addon for this platform is installed,
 * ERR_FORKWIRE_NATIVE_LOAD when one is there but cannot be loaded.
 */
function nativeLoadError(cause) {
  const pkg = require('./package.json');
  const binaryName = (pkg.napi && pkg.napi.binaryName) || pkg.name;
  const supported = ((pkg.napi && pkg.napi.targets) || []).map(platformOfTriple);
  const platform = currentPlatform();
  const packageName = `${pkg.name}-${platform}`;
  const fileName = `${binaryName}.${platform}.node`;
  const found = locate(fileName, packageName);
  const details = { cause, platform, packageName, version: pkg.version };
  let message;
  let code;
  const fromSource =
    `build it from source: in a clone of the forkwire repository, \`npm ci && npm run build\` writes ${fileName}; ` +
    "put it next to forkwire's index.js, or set NAPI_RS_NATIVE_LIBRARY_PATH to its path.";
  if (found) {
    code = codes.NATIVE_LOAD;
    message =
      `forkwire: the native addon for ${platform} is installed but cannot be loaded.\n` +
      `  file:  ${found}\n  error: ${innermostMessage(cause)}\n` +
      `Reinstall it at forkwire's version: npm install ${packageName}@${pkg.version}\n` +
      `Or ${fromSource}`;
  } else if (supported.length > 0 && !supported.includes(platform)) {
    code = codes.NATIVE_MISSING;
    message =
      `forkwire: no native addon is published for ${platform}. forkwire ${pkg.version} ships ` +
      `${supported.map((p) => `${pkg.name}-${p}`).join(', ')}.\n` +
      `You can try to ${fromSource}`;
  } else {
    code = codes.NATIVE_MISSING;
    message =
      `forkwire: the native addon for ${platform} is missing.\n` +
      `It is the npm package ${packageName}@${pkg.version}, one of forkwire's optionalDependencies, and it is ` +
      'not installed (`--omit=optional`, a lockfile made on another platform, or a forkwire tarball installed ' +
      'without its platform tarball leave it out).\n' +
      `Install it: npm install ${packageName}@${pkg.version}\n` +
      `Or ${fromSource}`;
  }
  return new ForkwireError(message, code, details);
}

/** Where the addon for this platform would be, if it is anywhere. */
function locate(fileName, packageName) {
  const path = require('path');
  const fs = require('fs');
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  const local = path.join(__dirname, fileName);
  if (fs.existsSync(local)) return local;
  try {
    return require.resolve(packageName, { paths: [__dirname] });
  } catch {
    return null;
  }
}

/** napi-rs's name for this machine: linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc, ... */
function currentPlatform() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const libc = isMusl() ? 'musl' : 'gnu';
    return arch === 'arm' ? `linux-arm-${libc}eabihf` : `linux-${arch}-${libc}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function isMusl() {
  try {
    const report = process.report && process.report.getReport();
    return !(report && report.header && report.header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

/** x86_64-unknown-linux-gnu -> linux-x64-gnu (the triples forkwire is configured for). */
function platformOfTriple(triple) {
  const [cpu, , os, abi] = triple.split('-');
  const archs = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm', riscv64gc: 'riscv64', powerpc64le: 'ppc64', loongarch64: 'loong64', s390x: 's390x' };
  const arch = archs[cpu] || cpu;
  if (os === 'linux') return `linux-${arch}-${abi}`;
  if (os === 'darwin') return `darwin-${arch}`;
  if (os === 'windows') return `win32-${arch}-${abi}`;
  return `${os}-${arch}`;
}

function innermostMessage(err) {
  const messages = [];
  for (let e = err; e && messages.length < 16; e = e.cause) messages.push(String(e.message || e));
  const real = messages.filter((m) => !/^Cannot find (module|native binding)/.test(m));
  return (real[real.length - 1] || messages[messages.length - 1] || 'unknown error').split('\n')[0];
}
