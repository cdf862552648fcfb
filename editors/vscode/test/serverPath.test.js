// Unit tests (node --test) for server discovery and the settings mapping, on the esbuild output.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { resolveServer, bundledServerPath } = require('../dist/test/serverPath.js');
const { serverSettings } = require('../dist/test/settings.js');

const ext = '/ext';
const bundled = bundledServerPath(ext, 'linux', 'x64');
const exists = (files) => (f) => files.includes(f);
const base = { extensionPath: ext, platform: 'linux', arch: 'x64', env: { PATH: '/usr/bin:/opt/k/bin', HOME: '/home/u' } };

test('bundled path layout is bin/<platform>-<arch>/keras-lsp', () => {
  assert.strictEqual(bundled, path.join('/ext', 'bin', 'linux-x64', 'keras-lsp'));
  assert.strictEqual(bundledServerPath(ext, 'win32', 'x64'), path.join('/ext', 'bin', 'win32-x64', 'keras-lsp.exe'));
});

test('the setting wins over the bundled binary and PATH', () => {
  const r = resolveServer({ ...base, configured: '/my/keras-lsp', isExecutable: exists(['/my/keras-lsp', bundled, '/usr/bin/keras-lsp']) });
  assert.deepStrictEqual(r, { command: '/my/keras-lsp', source: 'setting' });
});

test('a setting that points nowhere is an error, not a silent fallback', () => {
  const r = resolveServer({ ...base, configured: '/missing/keras-lsp', isExecutable: exists([bundled]) });
  assert.strictEqual(r, undefined);
});

test('setting: ~ expands, relative paths are taken from the workspace, bare names from PATH', () => {
  assert.strictEqual(resolveServer({ ...base, configured: '~/bin/keras-lsp', isExecutable: exists(['/home/u/bin/keras-lsp']) }).command, '/home/u/bin/keras-lsp');
  assert.strictEqual(resolveServer({ ...base, configured: 'target/debug/keras-lsp', workspaceFolder: '/ws', isExecutable: exists(['/ws/target/debug/keras-lsp']) }).command, '/ws/target/debug/keras-lsp');
  assert.strictEqual(resolveServer({ ...base, configured: 'keras-lsp', isExecutable: exists(['/opt/k/bin/keras-lsp']) }).command, '/opt/k/bin/keras-lsp');
});

test('no setting: bundled binary before PATH', () => {
  assert.deepStrictEqual(resolveServer({ ...base, configured: '', isExecutable: exists([bundled, '/usr/bin/keras-lsp']) }), { command: bundled, source: 'bundled' });
  assert.deepStrictEqual(resolveServer({ ...base, configured: ' ', isExecutable: exists(['/opt/k/bin/keras-lsp']) }), { command: '/opt/k/bin/keras-lsp', source: 'path' });
  assert.strictEqual(resolveServer({ ...base, configured: '', isExecutable: exists([]) }), undefined);
});

const reader = (values) => ({ get: (k) => values[k] });

test('defaults map to an empty object so the server keeps its own defaults', () => {
  assert.deepStrictEqual(serverSettings(reader({ select: [], ignore: [], rules: {}, python: '', debounceMs: null, benchTimeoutSeconds: null })), {});
});

test('every setting maps to the server key', () => {
  const s = serverSettings(reader({
    select: ['KRS1', ' KRS201 '], ignore: ['KRS401'], rules: { KRS201: { severity: 'error', 'min-save-freq': 200 } },
    python: '${workspaceFolder}/.venv/bin/python', debounceMs: 50, benchTimeoutSeconds: 180,
  }), '/ws');
  assert.deepStrictEqual(s, {
    select: ['KRS1', 'KRS201'], ignore: ['KRS401'], rules: { KRS201: { severity: 'error', 'min-save-freq': 200 } },
    python: '/ws/.venv/bin/python', 'debounce-ms': 50, 'bench-timeout-seconds': 180,
  });
});
