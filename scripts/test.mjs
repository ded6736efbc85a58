#!/usr/bin/env node
// `npm test` after the build: makes one CA for the whole run, then runs mocha with Node trusting it.
//
// Why a wrapper: Node reads NODE_EXTRA_CA_CERTS only when a process starts, and the in-process tests
// drive the real Azure SDK clients against emulators started inside the mocha process. So the CA must
// exist before mocha does; each emulator then signs its own fresh server certificate with it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { writeCertificateAuthority } = require(join(root, 'build', 'tests', 'emulator', 'kernel', 'certs.js'));

// One CA per run, in its own directory: two runs side by side must not replace each other's CA.
const caDir = mkdtempSync(join(tmpdir(), 'mic-test-ca-'));
const caFile = await writeCertificateAuthority(caDir);
const mocha = require.resolve('mocha/bin/mocha.js');
const result = spawnSync(process.execPath, [mocha, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, MIC_TEST_CA_DIR: caDir },
});
rmSync(caDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
