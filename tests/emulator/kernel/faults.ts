// Faults on demand: added latency, error statuses, 429s with Retry-After, and dropped connections.
//
// Rules are matched in order against every request the HTTPS server receives (not against in-process
// calls such as the ones TestConnection makes). Every matching rule's latency is added; the first
// matching rule with a status or `drop` decides the answer. `times` bounds how often a rule fires, so a
// test can say "the next two FIC writes get a 409" and then see the retry succeed.
import type { Service } from './http';

export interface FaultRule {
  /** Optional label, echoed in `GET faults`. */
  id?: string;
  /** HTTP method, case-insensitive. */
  method?: string;
  /** Regular expression (case-insensitive) tested against the normalized request path. */
  path?: string;
  /** Prefix of the route name, e.g. `arm.fic` matches `arm.fic.put` and `arm.fic.get`. */
  route?: string;
  service?: Service;
  /** Added before the request is handled, as a slow network or server would. */
  latencyMs?: number;
  /** Answer with this status and a body shaped like the service's own errors. */
  status?: number;
  /** Error code in that body (defaults per status, e.g. `TooManyRequests`, `InternalServerError`). */
  code?: string;
  message?: string;
  /** Adds `Retry-After` (seconds) to the answer. */
  retryAfterSeconds?: number;
  /**
   * Destroy the socket without answering (the client sees ECONNRESET / socket hang up); on HTTP/2, reset the
   * request's stream (RST_STREAM INTERNAL_ERROR), leaving the connection's other streams alone.
   */
  drop?: boolean;
  /**
   * Handle the request (the write is committed), send the status line, headers and half of the body, then
   * destroy the socket (on HTTP/2: reset the stream): a connection reset mid-body, after the server did the work.
   */
  dropAfterCommit?: boolean;
  /**
   * Match only the calls modules make to each other in-process (`ctx.internalFetch`), e.g. the token exchange
   * behind Azure DevOps' TestConnection, not network traffic. Only status rules apply there (no latency, no drops).
   */
  internal?: boolean;
  /** Fire for at most this many matching requests; unlimited when absent. */
  times?: number;
}

export interface FaultDecision {
  latencyMs: number;
  fail?: FaultRule;
}

interface ActiveRule {
  rule: FaultRule;
  pattern?: RegExp;
  fired: number;
}

export class FaultBook {
  private rules: ActiveRule[] = [];

  set(rules: FaultRule[]): void {
    this.rules = rules.map((rule) => ({ rule: validateRule(rule), pattern: rule.path ? new RegExp(rule.path, 'i') : undefined, fired: 0 }));
  }

  add(rules: FaultRule[]): void {
    const before = this.rules;
    this.set(rules);
    this.rules = [...before, ...this.rules];
  }

  clear(): void {
    this.rules = [];
  }

  list(): Array<FaultRule & { fired: number }> {
    return this.rules.map(({ rule, fired }) => ({ ...rule, fired }));
  }

  decide(request: { method: string; path: string; route?: string; service?: Service; internal?: boolean }): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.times !== undefined && active.fired >= rule.times) continue;
      if (request.internal ? rule.internal !== true || rule.status === undefined : rule.internal === true) continue;
      if (rule.method && rule.method.toUpperCase() !== request.method.toUpperCase()) continue;
      if (rule.service && rule.service !== request.service) continue;
      if (rule.route && !(request.route ?? '').startsWith(rule.route)) continue;
      if (active.pattern && !active.pattern.test(request.path)) continue;
      const failing = rule.status !== undefined || rule.drop === true || rule.dropAfterCommit === true;
      if (failing && decision.fail) continue;
      active.fired++;
      if (!request.internal) decision.latencyMs += rule.latencyMs ?? 0;
      if (failing) decision.fail = rule;
    }
    return decision;
  }
}

function validateRule(rule: FaultRule): FaultRule {
  if (typeof rule !== 'object' || rule === null) throw new Error('each fault rule must be an object');
  if (rule.status !== undefined && (!Number.isInteger(rule.status) || rule.status < 400 || rule.status > 599)) {
    throw new Error(`fault rule status must be an integer from 400 to 599, got ${JSON.stringify(rule.status)}`);
  }
  if (rule.latencyMs !== undefined && !(rule.latencyMs >= 0)) throw new Error('fault rule latencyMs must be a number ≥ 0');
  if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) throw new Error('fault rule times must be an integer ≥ 0');
  if (rule.path !== undefined) new RegExp(rule.path, 'i');
  return rule;
}
