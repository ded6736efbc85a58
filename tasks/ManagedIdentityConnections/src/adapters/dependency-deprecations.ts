// Node prints some deprecation warnings only for code outside node_modules: a dependency's use of the API is
// for its maintainers to fix, not for the application's users to read (nodejs/node#40162: "intentional";
// url.parse()'s DEP0169 checks `isInsideNodeModules`, lib/url.js). The task is one bundle, so to Node every
// dependency's code is the task's own: on the agent's Node 24 handler, azure-devops-node-api's url.parse()
// (WebApi, VsoClient; microsoft/azure-devops-node-api#676, open) printed DEP0169 — "prone to errors that have
// security implications" — into the log of every run. Bundled applications meet this generally (vercel/ncc#1301).
//
// So the task drops exactly the warnings Node would not have printed for the same code installed unbundled.
// Only codes Node exempts inside node_modules belong in the list, and the task's own source must not use their
// APIs: tests/unit/architecture.test.ts checks it, so that nothing of ours is silenced.
export const DEPENDENCY_DEPRECATIONS: ReadonlySet<string> = new Set(['DEP0169']);

type EmitWarning = NodeJS.Process['emitWarning'];

/** Wraps `target.emitWarning` (process's) to drop the deprecations in DEPENDENCY_DEPRECATIONS; once. */
export function silenceDependencyDeprecations(target: { emitWarning: EmitWarning } = process): void {
  const emit = target.emitWarning;
  if (silenced.has(emit)) return;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    if (DEPENDENCY_DEPRECATIONS.has(warningCode(warning, rest) ?? '')) return;
    (emit as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as EmitWarning;
  silenced.add(filtered);
  target.emitWarning = filtered;
}

const silenced = new WeakSet<EmitWarning>();

/** emitWarning(warning, type?, code?, ctor?) or emitWarning(warning, { type, code, detail }), or an Error's code. */
function warningCode(warning: string | Error, rest: readonly unknown[]): string | undefined {
  if (warning instanceof Error) return (warning as NodeJS.ErrnoException).code;
  const [typeOrOptions, code] = rest;
  if (typeOrOptions !== null && typeof typeOrOptions === 'object') return (typeOrOptions as { code?: string }).code;
  return typeof code === 'string' ? code : undefined;
}
