// What ARM does for every call before a resource provider sees it: authenticate the bearer token,
// take a token from the caller's throttling bucket, and (per operation) authorize the action with
// RBAC and ABAC. Route modules register through `armRoute` and get an `ArmCall` with these checks.
//
// Trusted setup calls (`req.system`, from seeding and other modules' setup) skip authentication,
// throttling and authorization, and their writes count as already replicated/propagated.
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { bearerToken, header, HttpError, jsonBody, type EmuRequest, type EmuResponse } from '../kernel/http';
import { peekToken, TokenCheckError, verifyToken } from '../kernel/tokens';
import type { AttributeSource } from './abac-condition';
import { armError, authorizationFailed, invalidRequestContent, invalidSubscriptionId, resourceGroupNotFound, subscriptionNotFound, tooManyRequests } from './arm-errors';
import { accessTokenIssuer } from './entra-token';
import { isGuid, parseScope } from './ids';
import { checkAccess, hasAnyAssignmentAround } from './rbac';
import type { AzureRuntime } from './runtime';
import type { ResourceGroup, Subscription } from './world';

/** The audiences ARM accepts, exactly as its InvalidAuthenticationTokenAudience message lists them. */
const ARM_AUDIENCES = ['https://management.core.windows.net/', 'https://management.core.windows.net', 'https://management.azure.com/', 'https://management.azure.com'];

export interface Caller {
  /** The `oid` claim: the service principal's object id, which role assignments name. */
  principalId: string;
  claims: JWTPayload;
}

export interface AbacAttributes {
  request?: AttributeSource;
  resource?: AttributeSource;
}

export interface ArmCall {
  readonly req: EmuRequest;
  readonly runtime: AzureRuntime;
  /** Undefined for trusted setup calls. */
  readonly caller?: Caller;
  /** `createdBy`/`updatedBy` of what this call writes: the caller's object id, null for setup calls. */
  readonly actor: string | null;
  /** Throws ARM's 403 AuthorizationFailed unless the caller may perform `action` on `resourceId`. */
  authorize(action: string, resourceId: string, attributes?: AbacAttributes): void;
  /** Whether `authorize` would pass (list answers only show what the caller may read). */
  can(action: string, resourceId: string): boolean;
  /** ARM's visibility rule for lists and subscription reads: some role assignment at, above or below the scope. */
  requireVisibility(action: string, scope: string): void;
  requireSubscription(subscriptionId: string): Subscription;
  requireResourceGroup(subscriptionId: string, resourceGroup: string): ResourceGroup;
  /** The JSON body (undefined when empty); 400 InvalidRequestContent when it does not parse. */
  body<T>(): T | undefined;
}

type Operation = 'reads' | 'writes' | 'deletes';

function operationOf(method: string): Operation {
  if (method === 'DELETE') return 'deletes';
  return method === 'GET' || method === 'HEAD' ? 'reads' : 'writes';
}

/** `5/19/2022 7:31:41 AM`, the UTC format of ARM's ExpiredAuthenticationToken message. */
function armTime(date: Date): string {
  const hours = date.getUTCHours();
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${hours % 12 || 12}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${hours < 12 ? 'AM' : 'PM'}`;
}

async function authenticate(runtime: AzureRuntime, req: EmuRequest): Promise<Caller> {
  const tenantId = runtime.world.tenant.id;
  const authority = req.host.toLowerCase().startsWith('management.azure.com') ? 'https://login.microsoftonline.com' : req.origin;
  const fail = (code: string, message: string) =>
    armError(401, code, message, {
      'www-authenticate': `Bearer authorization_uri="${authority}/${tenantId}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
    });

  if (!header(req, 'authorization')) throw fail('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  const token = bearerToken(req);
  if (!token) throw fail('AuthenticationFailed', "Authentication failed. The 'Authorization' header is provided in an invalid format.");

  let claims: JWTPayload;
  try {
    claims = await verifyToken(token, runtime.ctx.keys.entra);
  } catch (error) {
    if (error instanceof TokenCheckError && error.reason === 'expired') {
      const expiry = new Date(Number(peekToken(token)?.exp ?? 0) * 1000);
      throw fail('ExpiredAuthenticationToken', `The access token expiry UTC time '${armTime(expiry)}' is earlier than current UTC time '${armTime(new Date())}'.`);
    }
    throw fail('InvalidAuthenticationToken', 'The access token is invalid.');
  }

  const expectedIssuer = accessTokenIssuer(tenantId);
  if (claims.iss !== expectedIssuer) {
    throw fail(
      'InvalidAuthenticationTokenTenant',
      `The access token is from the wrong issuer '${String(claims.iss)}'. It must match the tenant '${expectedIssuer}' associated with this subscription. Please use the authority (URL) '${authority}/${tenantId}' to get the token.`,
    );
  }
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (!audiences.some((audience) => ARM_AUDIENCES.includes(audience))) {
    throw fail(
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${audiences.join(', ')}'. It should exactly match with one of the allowed audiences ${ARM_AUDIENCES.map((audience) => `'${audience}'`).join(',')}.`,
    );
  }
  if (typeof claims.oid !== 'string') throw fail('InvalidAuthenticationToken', 'The access token is invalid.');
  return { principalId: claims.oid, claims };
}

/** Takes one token from the caller's bucket; answers 429 with Retry-After when it is empty. */
function throttle(runtime: AzureRuntime, req: EmuRequest, caller: Caller, headers: Record<string, string>): void {
  const settings = runtime.ctx.settings.throttle;
  if (!settings.enabled) return;
  const operation = operationOf(req.method);
  const subscriptionId = parseScope(req.path).subscriptionId;
  const level = subscriptionId ? 'subscription' : 'tenant';
  const key = [level, subscriptionId?.toLowerCase() ?? '', caller.principalId.toLowerCase(), operation].join('|');
  const taken = runtime.buckets.take(key, settings[operation]);
  const headerName = `x-ms-ratelimit-remaining-${level}-${operation}`;
  if (!taken.allowed) throw tooManyRequests(operation, taken.retryAfterSeconds, { [headerName]: '0' });
  headers[headerName] = String(taken.remaining);
}

function createCall(runtime: AzureRuntime, req: EmuRequest, caller: Caller | undefined): ArmCall {
  const { world } = runtime;
  return {
    req,
    runtime,
    caller,
    actor: caller?.principalId ?? null,
    authorize(action, resourceId, attributes = {}) {
      if (!caller) return;
      const decision = checkAccess(world, { principalId: caller.principalId, action, resourceId, ...attributes });
      if (!decision.allowed) throw authorizationFailed(caller.principalId, action, resourceId, decision.conditionNotFulfilled);
    },
    can: (action, resourceId) => !caller || checkAccess(world, { principalId: caller.principalId, action, resourceId }).allowed,
    requireVisibility(action, scope) {
      if (caller && !hasAnyAssignmentAround(world, caller.principalId, scope)) throw authorizationFailed(caller.principalId, action, scope, false);
    },
    requireSubscription(subscriptionId) {
      if (!isGuid(subscriptionId)) throw invalidSubscriptionId(subscriptionId);
      const subscription = world.subscription(subscriptionId);
      if (!subscription) throw subscriptionNotFound(subscriptionId);
      return subscription;
    },
    requireResourceGroup(subscriptionId, resourceGroup) {
      const group = world.resourceGroup(subscriptionId, resourceGroup);
      if (!group) throw resourceGroupNotFound(resourceGroup);
      return group;
    },
    body<T>() {
      return jsonBody<T>(req, (message) => {
        throw invalidRequestContent(message);
      });
    },
  };
}

export type ArmHandler = (call: ArmCall) => EmuResponse | Promise<EmuResponse>;

/** Registers an ARM route whose handler runs after authentication and throttling. */
export function armRoute(runtime: AzureRuntime, method: string, pattern: string, name: string, handler: ArmHandler): void {
  runtime.ctx.router.add(method, pattern, { service: 'arm', name }, async (req) => {
    const headers: Record<string, string> = {};
    try {
      let caller: Caller | undefined;
      if (!req.system) {
        caller = await authenticate(runtime, req);
        throttle(runtime, req, caller, headers);
      }
      const response = await handler(createCall(runtime, req, caller));
      return { ...response, headers: { ...headers, ...(response.headers ?? {}) } };
    } catch (error) {
      if (error instanceof HttpError) Object.assign(error.headers, headers);
      throw error;
    }
  });
}

/** Headers every ARM answer carries, injected faults included (registered as the kernel's arm hook). */
export function armResponseHeaders(req: EmuRequest): Record<string, string> {
  const requestId = randomUUID();
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return {
    'x-ms-request-id': requestId,
    'x-ms-correlation-request-id': header(req, 'x-ms-correlation-request-id') ?? randomUUID(),
    'x-ms-routing-request-id': `WESTEUROPE:${stamp}:${requestId}`,
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    expires: '-1',
  };
}
