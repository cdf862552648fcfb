// Copies $KERAS_LSP_BIN into bin/<platform>-<arch>/ so `vsce package` bundles the server.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const binDir = path.join(root, 'bin');
const source = process.env.KERAS_LSP_BIN;
const platform = process.env.KERAS_LSP_TARGET_PLATFORM || process.platform;
const arch = process.env.KERAS_LSP_TARGET_ARCH || process.arch;

// Start from an empty bin/ so a stale binary from an earlier build is never shipped.
fs.rmSync(binDir, { recursive: true, force: true });
if (!source) {
  console.log('stage-binary: KERAS_LSP_BIN is not set; packaging without a bundled server (PATH or keras-lsp.server.path is used).');
  process.exit(0);
}
if (!fs.existsSync(source)) {
  console.error(`stage-binary: KERAS_LSP_BIN=${source} does not exist`);
  process.exit(1);
}
const exe = platform === 'win32' ? 'keras-lsp.exe' : 'keras-lsp';
const target = path.join(binDir, `${platform}-${arch}`, exe);
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(source, target);
fs.chmodSync(target, 0o755);
console.log(`stage-binary: bundled ${source} as ${path.relative(root, target)}`);
