#!/usr/bin/env node
// The one build step every npm script runs first. Plain JavaScript on purpose: it is what turns the
// TypeScript into something Node can run, so it cannot itself be TypeScript.
//
// 1. `tsc` type-checks the whole tree (task, emulator, tests, scripts) and emits CommonJS into build/.
//    Incremental, so a no-change rebuild costs about a second.
// 2. esbuild bundles the task as the Azure Pipelines agent runs it:
//    dist/tasks/ManagedIdentityConnections/{task.json,index.js,azure-sdk.js,icon.png}. The agent gets no
//    node_modules, so everything but Node's built-ins must be inside those two files. azure-sdk.js holds
//    the Azure SDKs and MSAL (src/adapters/azure-sdk.ts): index.js loads it on the first Azure call, so that
//    Node does not compile it before the task's first request.
//
// Nothing is printed on success: `npm run -s emulator` must keep stdout to the emulator's one JSON line.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const taskName = 'ManagedIdentityConnections';
const taskOut = join(root, 'dist', 'tasks', taskName);
const require = createRequire(import.meta.url);

/**
 * tsc never deletes what it emitted for a source that is gone: a renamed test would keep running (and passing,
 * against the stale copy of the module it imported). Remove every emitted .js whose .ts no longer exists.
 */
function removeOrphanedOutput(folder = join(root, 'build')) {
  if (!existsSync(folder)) return;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      removeOrphanedOutput(path);
      continue;
    }
    const emitted = /\.js(\.map)?$/.exec(entry.name);
    if (!emitted) continue;
    const source = join(root, path.slice(join(root, 'build').length + 1).replace(/\.js(\.map)?$/, '.ts'));
    if (!existsSync(source)) rmSync(path);
  }
}

function typeCheckAndEmit() {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    process.stderr.write(result.stdout);
    process.stderr.write(result.stderr);
    process.stderr.write('build: TypeScript reported errors (above)\n');
    process.exit(result.status ?? 1);
  }
}

/** The one module index.js loads from a file of its own; its import stays a require of that file. */
const azureSdkModule = join(root, 'tasks', taskName, 'src', 'adapters', 'azure-sdk.ts');
const azureSdkFile = 'azure-sdk.js';

const keepAzureSdkApart = {
  name: 'keep-azure-sdk-apart',
  setup(build) {
    build.onResolve({ filter: /\/azure-sdk$/ }, (args) => {
      if (join(args.resolveDir, `${args.path}.ts`) !== azureSdkModule) return undefined;
      return { path: `./${azureSdkFile}`, external: true };
    });
  },
};

/**
 * One build of each Azure SDK package. The packages ship an ESM and a CommonJS build, and esbuild picks by how a
 * module is reached: `import` (our code, @azure/arm-msi, @azure/identity) gets dist/esm, `require` (CommonJS-only
 * @azure/arm-authorization) gets dist/commonjs — so core-client, core-rest-pipeline, ts-http-runtime and their
 * helpers were bundled twice, compiled twice at load and kept apart in state. A `require` of them now resolves as
 * an `import` would; esbuild wraps the ESM build for it.
 */
const oneBuildPerPackage = {
  name: 'one-build-per-package',
  setup(build) {
    build.onResolve({ filter: /^@(azure|typespec)\// }, async (args) => {
      if (args.kind !== 'require-call') return undefined;
      const resolved = await build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, importer: args.importer });
      return resolved.errors.length > 0 ? undefined : { path: resolved.path, ...(resolved.sideEffects === false ? { sideEffects: false } : {}) };
    });
  },
};

async function bundle(entry, outfile, plugins) {
  return build({
    entryPoints: [entry],
    outfile,
    plugins,
    // import() of azure-sdk.js becomes a require() in a promise: Node's ESM loader, which a real import()
    // would start, costs more than the file it loads.
    supported: { 'dynamic-import': false },
    // The pipelines of the Azure SDKs ask `body instanceof FormData` on every request. The first touch of
    // that global makes Node 20 load its fetch implementation (undici): 40–60 ms of a blocked thread on the
    // first request, measured. No body the task sends is a FormData, so the test is compiled to false.
    define: { FormData: 'undefined' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // The lowest Node the task.json handlers run on (Node20_1).
    target: 'node20',
    // MIC_BUILD_UNMINIFIED=1 keeps names and module comments, for reading a CPU profile (docs/performance.md).
    minify: process.env.MIC_BUILD_UNMINIFIED !== '1',
    // No keepNames: it wraps every function and class in a name-setting call at load time (~10 % of the
    // bundle's evaluation). Nothing here relies on minified function names: the libraries' error classes and
    // ours set `name` explicitly, and only tracing span labels read `constructor.name`.
    keepNames: false,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
}

async function bundleTask() {
  mkdirSync(taskOut, { recursive: true });
  const [main, azureSdk] = await Promise.all([
    bundle(join(root, 'tasks', taskName, 'index.ts'), join(taskOut, 'index.js'), [keepAzureSdkApart]),
    bundle(azureSdkModule, join(taskOut, azureSdkFile), [oneBuildPerPackage]),
  ]);
  const inputs = { ...azureSdk.metafile.inputs, ...main.metafile.inputs };
  const outputs = { ...main.metafile.outputs, ...azureSdk.metafile.outputs };
  writeFileSync(join(root, 'dist', `${taskName}.meta.json`), JSON.stringify({ inputs, outputs }));
  copyFileSync(join(root, 'task.json'), join(taskOut, 'task.json'));
  copyFileSync(join(root, 'tasks', taskName, 'icon.png'), join(taskOut, 'icon.png'));
}

const only = process.argv[2];
if (only !== '--bundle-only') {
  removeOrphanedOutput();
  typeCheckAndEmit();
}
if (only !== '--tsc-only') await bundleTask();
