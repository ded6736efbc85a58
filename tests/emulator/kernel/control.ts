// The control API every module shares: state, request counters, faults, settings and reset. Modules add
// their own control routes (e.g. completing a pipeline run) to the same router.
import type { EmulatorContext, EmulatorSettings } from './context';
import type { FaultRule } from './faults';
import { HttpError, jsonBody, queryParam, type EmuRequest } from './http';

export interface ControlHooks {
  /** Clears every module, reseeds from the start seed, and resets counters, faults, tokens and settings. */
  reset(): Promise<void>;
  /** Every module's state, the request counters and the issued tokens: what `GET state` answers. */
  state(): Record<string, unknown>;
}

function badRequest(message: string): never {
  throw new HttpError(400, { error: message });
}

function body<T>(req: EmuRequest): T {
  return jsonBody<T>(req, badRequest);
}

export function registerControlRoutes(ctx: EmulatorContext, hooks: ControlHooks): void {
  const route = { service: 'control' as const };
  const r = ctx.controlRouter;

  // Read from the router on each request, not written down here, so whatever route a module registers is
  // listed (a fixed list here once missed every Azure DevOps call and the test issuer's).
  r.add('GET', '/', { ...route, name: 'control.index' }, () => ({
    status: 200,
    body: {
      description: 'Control API of the Managed Identity Connections emulator (docs/emulator.md#the-control-api). Paths are relative to this URL; :name is a path parameter.',
      endpoints: r.list().map(({ method, pattern }) => `${method} ${pattern === '/' ? '/' : pattern.slice(1)}`),
    },
  }));

  r.add('GET', '/state', { ...route, name: 'control.state' }, () => ({ status: 200, body: hooks.state() }));

  r.add('GET', '/requests', { ...route, name: 'control.requests' }, (req) => {
    const since = Number(queryParam(req, 'since') ?? 0);
    return { status: 200, body: { ...ctx.requests.summary(), log: ctx.requests.log.slice(Number.isFinite(since) ? since : 0) } };
  });

  r.add('GET', '/tokens', { ...route, name: 'control.tokens' }, () => ({ status: 200, body: { value: ctx.tokens.list() } }));

  r.add('GET', '/faults', { ...route, name: 'control.faults.get' }, () => ({ status: 200, body: { rules: ctx.faults.list() } }));
  r.add('POST', '/faults', { ...route, name: 'control.faults.post' }, (req) => {
    const input = body<FaultRule[] | { rules?: FaultRule[]; append?: boolean }>(req);
    const rules = Array.isArray(input) ? input : input?.rules;
    if (!Array.isArray(rules)) badRequest('POST faults takes {"rules":[...], "append"?: boolean} or an array of rules');
    try {
      if (!Array.isArray(input) && input?.append) ctx.faults.add(rules);
      else ctx.faults.set(rules);
    } catch (error) {
      badRequest((error as Error).message);
    }
    return { status: 200, body: { rules: ctx.faults.list() } };
  });
  r.add('DELETE', '/faults', { ...route, name: 'control.faults.delete' }, () => {
    ctx.faults.clear();
    return { status: 200, body: { rules: [] } };
  });

  r.add('GET', '/settings', { ...route, name: 'control.settings.get' }, () => ({ status: 200, body: ctx.settings }));
  r.add('POST', '/settings', { ...route, name: 'control.settings.post' }, (req) => {
    const patch = body<Record<string, unknown>>(req);
    if (!isPlainObject(patch)) badRequest('POST settings takes a JSON object to merge into the settings');
    ctx.settings = mergeSettings(ctx.settings, patch, 'settings') as EmulatorSettings;
    return { status: 200, body: ctx.settings };
  });
  r.add('POST', '/delays', { ...route, name: 'control.delays' }, (req) => {
    const patch = body<{ ficPropagationMs?: unknown; principalReplicationMs?: unknown }>(req) ?? {};
    for (const key of Object.keys(patch)) {
      if (key !== 'ficPropagationMs' && key !== 'principalReplicationMs') badRequest(`unknown delay '${key}': use ficPropagationMs or principalReplicationMs`);
    }
    ctx.settings = mergeSettings(ctx.settings, patch, 'delays') as EmulatorSettings;
    return { status: 200, body: { ficPropagationMs: ctx.settings.ficPropagationMs, principalReplicationMs: ctx.settings.principalReplicationMs } };
  });

  r.add('POST', '/reset', { ...route, name: 'control.reset' }, async () => {
    await hooks.reset();
    return { status: 200, body: { reset: true } };
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `patch` into `base`, refusing keys `base` lacks and values of another type. */
function mergeSettings(base: unknown, patch: Record<string, unknown>, path: string): unknown {
  if (!isPlainObject(base)) badRequest(`${path} is not an object`);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const where = `${path}.${key}`;
    if (!(key in base)) badRequest(`unknown setting ${where}; known: ${Object.keys(base).join(', ')}`);
    const current = base[key];
    if (isPlainObject(current)) {
      if (!isPlainObject(value)) badRequest(`${where} must be an object`);
      merged[key] = mergeSettings(current, value, where);
    } else if (typeof current === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) badRequest(`${where} must be a number ≥ 0`);
      merged[key] = value;
    } else if (typeof current !== typeof value) {
      badRequest(`${where} must be a ${typeof current}`);
    } else {
      merged[key] = value;
    }
  }
  return merged;
}
