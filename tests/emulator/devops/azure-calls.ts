// Azure DevOps acting as a client of Entra ID and ARM on a connection's behalf (connection verification
// and other data sources). The calls go through `ctx.internalFetch` to the real Entra and ARM routes —
// never `system`, so a missing federated credential, one that has not propagated yet, or a missing role
// assignment fails here exactly as it would for any other client.
import type { DevOpsService } from './devops-service';
import { parameter } from './endpoint-store';
import { isWorkloadIdentityFederation } from './endpoint-types';
import { connectionIdToken } from './id-tokens';
import type { ServiceEndpoint } from './world';
import type { EmuResponse } from '../kernel/http';

export type AzureResult<T> = { ok: true; value: T } | { ok: false; status: number; message: string; body?: unknown };

const ENTRA_HOST = 'login.microsoftonline.com';
const ARM_HOST = 'management.azure.com';

export function responseJson(response: EmuResponse): unknown {
  const { body } = response;
  if (body === undefined || body === null) return undefined;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (text === undefined) return body;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** An ARM access token for the connection's identity, as Azure DevOps obtains it. */
export async function signInAsConnection(service: DevOpsService, endpoint: ServiceEndpoint): Promise<AzureResult<string>> {
  const parameters = endpoint.authorization.parameters;
  const tenant = parameter(parameters, 'tenantid') ?? '';
  const clientId = parameter(parameters, 'serviceprincipalid') ?? '';
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'https://management.azure.com/.default' });
  if (isWorkloadIdentityFederation(endpoint)) {
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set('client_assertion', await connectionIdToken(service, endpoint));
  } else if (endpoint.authorization.scheme === 'ServicePrincipal' && parameter(parameters, 'serviceprincipalkey')) {
    form.set('client_secret', parameter(parameters, 'serviceprincipalkey')!);
  } else {
    return { ok: false, status: 400, message: `Connections using the ${endpoint.authorization.scheme} scheme cannot sign in from the emulated Azure DevOps.` };
  }
  const response = await service.ctx.internalFetch({
    method: 'POST',
    path: `/${encodeURIComponent(tenant)}/oauth2/v2.0/token`,
    host: ENTRA_HOST,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  const json = responseJson(response) as { access_token?: string; error_description?: string; error?: string } | undefined;
  if (response.status === 200 && json?.access_token) return { ok: true, value: json.access_token };
  const description = json?.error_description ?? json?.error ?? `The token endpoint answered ${response.status}.`;
  return {
    ok: false,
    status: response.status,
    message: `Failed to obtain the Json Web Token(JWT) using service principal client ID. Exception Message: ${description}`,
    body: json,
  };
}

/** GET an ARM URL with a bearer token; only Azure Resource Manager (or the emulator's own origin) is reachable. */
export async function armGet(service: DevOpsService, url: string, accessToken: string): Promise<AzureResult<unknown>> {
  const target = new URL(url);
  const emulatorHost = new URL(service.ctx.urls.origin).host;
  if (target.host.toLowerCase() !== ARM_HOST && target.host !== emulatorHost) {
    return { ok: false, status: 400, message: `The emulator reaches only Azure Resource Manager; it cannot call ${target.host}.` };
  }
  const response = await service.ctx.internalFetch({ method: 'GET', path: `${target.pathname}${target.search}`, host: ARM_HOST, headers: { authorization: `Bearer ${accessToken}` } });
  const json = responseJson(response);
  if (response.status >= 200 && response.status < 300) return { ok: true, value: json };
  const text = typeof json === 'string' ? json : JSON.stringify(json ?? '');
  return {
    ok: false,
    status: response.status,
    message: `Failed to query service connection API: '${url}'. Status Code: '${statusName(response.status, true)}', Response from server: '${text}'`,
    body: json,
  };
}

const STATUS_NAMES: Record<number, string> = {
  200: 'OK',
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** .NET HttpStatusCode names; data source results carry them camel-cased (`ok`, `badRequest`). */
export function statusName(status: number, pascal = false): string {
  const name = STATUS_NAMES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequest');
  return pascal ? name : name === 'OK' ? 'ok' : name[0].toLowerCase() + name.slice(1);
}
