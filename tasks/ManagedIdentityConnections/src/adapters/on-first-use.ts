// A port whose real implementation is built on its first call.
//
// Two reasons to wait: nothing may go over the network before the spec has been validated (with devOpsAuth:
// bootstrapIdentity, building the Azure DevOps client means fetching an Entra token), and the task's start-up
// is measured to its first request — the Azure SDKs and MSAL take tens of milliseconds to load, so they are
// loaded (`import()`, which esbuild keeps lazy inside the bundle) only when the first Azure call needs them,
// after the Azure DevOps requests are already on their way.

/** Every method of T, listed once: `satisfies` makes the compiler reject a list that misses one. */
export type MethodList<T> = { readonly [K in keyof T]: true };

export function builtOnFirstUse<T extends object>(build: () => Promise<T>, methods: MethodList<T>): T {
  let real: Promise<T> | undefined;
  const instance = (): Promise<T> => {
    real ??= build().catch((error: unknown) => {
      // A failed build (e.g. a refused token) is retried by the next call instead of being remembered.
      real = undefined;
      throw error;
    });
    return real;
  };
  const forwarding: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const method of Object.keys(methods)) {
    forwarding[method] = async (...args: unknown[]) => {
      const target = await instance();
      return (target[method as keyof T] as (...args: unknown[]) => unknown).apply(target, args);
    };
  }
  return forwarding as T;
}
