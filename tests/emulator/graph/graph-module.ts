// The `graph` emulator module: the Microsoft Graph calls the Azure CLI makes around role assignments,
// answered from the managed identities of the Azure module (a user-assigned identity is a service
// principal of type ManagedIdentity in the directory) and its app registrations (`azure.applications`: a
// service principal of type Application, whose object id differs from the app id — the convert command
// resolves it with `$filter=appId eq '…'`, https://learn.microsoft.com/graph/api/serviceprincipal-list).
//
// `az role assignment list --assignee X` first resolves X: `GET /v1.0/servicePrincipals?$filter=
// servicePrincipalNames/any(c:c eq 'X')` (a managed identity's service principal names include its client
// id), then, when X is a GUID nothing matched, `POST /v1.0/directoryObjects/getByIds` to check it is an
// object id. After listing the assignments it calls getByIds again to show principal names.
//
// Like Graph, reading the directory needs an application permission (Directory.Read.All or
// Application.Read.All) that a managed identity does not have by default: callers get 403
// Authorization_RequestDenied unless their object id is in `settings.graph.directoryReaders` (seed
// `graph.directoryReaders`). The CLI survives that denial for a GUID assignee ("Assuming X as an object
// ID"), which is why the smoke test passes the object id; the tests exercise both answers.
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { EmulatorContext, EmulatorModule, SeedDocument } from '../kernel/context';
import { bearerToken, HttpError, jsonBody, queryParam, type EmuRequest, type EmuResponse } from '../kernel/http';
import { TokenCheckError, verifyToken } from '../kernel/tokens';
import { azureShared, type AzureIdentityInfo } from '../azure/shared';

/** The audiences Graph accepts: its resource URI (with or without the slash the CLI adds) and its app id. */
const GRAPH_AUDIENCES = ['https://graph.microsoft.com', 'https://graph.microsoft.com/', '00000003-0000-0000-c000-000000000000'];
const GRAPH_ROOT = 'https://graph.microsoft.com/v1.0';
/** Object types getByIds understands; anything else is a 400, as in Graph. */
const DIRECTORY_TYPES = ['user', 'group', 'serviceprincipal', 'application', 'device', 'directoryobjectpartnerreference', 'orgcontact'];

export interface GraphSettings {
  /** Object ids allowed to read the directory (as if granted Directory.Read.All). */
  directoryReaders: string[];
}

export interface GraphSeed {
  directoryReaders?: string[];
}

function graphSettings(ctx: EmulatorContext): GraphSettings {
  return ctx.settings.graph as GraphSettings;
}

/** Graph's error envelope: `{error: {code, message, innerError: {date, request-id, client-request-id}}}`. */
export function graphErrorBody(code: string, message: string, requestId: string = randomUUID()): unknown {
  return { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': requestId, 'client-request-id': requestId } } };
}

function graphError(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, graphErrorBody(code, message), headers);
}

async function authenticate(ctx: EmulatorContext, req: EmuRequest): Promise<JWTPayload> {
  const unauthorized = (message: string) => graphError(401, 'InvalidAuthenticationToken', message, { 'www-authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"` });
  const token = bearerToken(req);
  if (!token) throw unauthorized('Access token is empty.');
  let claims: JWTPayload;
  try {
    claims = await verifyToken(token, ctx.keys.entra);
  } catch (error) {
    if (error instanceof TokenCheckError && error.reason === 'expired') throw unauthorized('Lifetime validation failed, the token is expired.');
    throw unauthorized('Access token validation failure.');
  }
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (!audiences.some((audience) => GRAPH_AUDIENCES.includes(audience))) throw unauthorized('Access token validation failure. Invalid audience.');
  if (String(claims.tid ?? '').toLowerCase() !== azureShared(ctx).tenantId.toLowerCase()) throw unauthorized('Access token validation failure. Invalid issuer.');
  return claims;
}

function requireDirectoryRead(ctx: EmulatorContext, claims: JWTPayload): void {
  const caller = String(claims.oid ?? '').toLowerCase();
  if (!graphSettings(ctx).directoryReaders.some((reader) => reader.toLowerCase() === caller)) {
    throw graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  }
}

/** A managed identity's service principal names: its client id and the identity endpoint URI. */
function servicePrincipalNames(identity: AzureIdentityInfo): string[] {
  return [identity.clientId, `https://identity.azure.net/${identity.principalId}`];
}

/** The service principal Graph shows for a user-assigned managed identity. */
function servicePrincipal(identity: AzureIdentityInfo): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.servicePrincipal',
    id: identity.principalId,
    appId: identity.clientId,
    displayName: identity.name,
    accountEnabled: true,
    servicePrincipalType: 'ManagedIdentity',
    appOwnerOrganizationId: null,
    signInAudience: null,
    servicePrincipalNames: servicePrincipalNames(identity),
    alternativeNames: ['isExplicit=True', identity.resourceId],
  };
}

/** A directory service principal as the filters see it, whichever kind. */
interface DirectoryEntry {
  readonly objectId: string;
  readonly appId: string;
  readonly displayName: string;
  readonly names: string[];
  readonly render: () => Record<string, unknown>;
}

function identityEntry(identity: AzureIdentityInfo): DirectoryEntry {
  return { objectId: identity.principalId, appId: identity.clientId, displayName: identity.name, names: servicePrincipalNames(identity), render: () => servicePrincipal(identity) };
}

function applicationEntry(app: { appId: string; servicePrincipalId: string; displayName: string }): DirectoryEntry {
  return {
    objectId: app.servicePrincipalId,
    appId: app.appId,
    displayName: app.displayName,
    names: [app.appId],
    render: () => ({ '@odata.type': '#microsoft.graph.servicePrincipal', id: app.servicePrincipalId, appId: app.appId, displayName: app.displayName, accountEnabled: true, servicePrincipalType: 'Application', servicePrincipalNames: [app.appId] }),
  };
}

/** Every service principal of the directory: identities' and app registrations'. */
async function allServicePrincipals(ctx: EmulatorContext): Promise<DirectoryEntry[]> {
  return [...(await allIdentities(ctx)).map(identityEntry), ...azureShared(ctx).applications().map(applicationEntry)];
}

/** Every user-assigned identity, read through ARM as another client would (trusted setup call). */
async function allIdentities(ctx: EmulatorContext): Promise<AzureIdentityInfo[]> {
  const shared = azureShared(ctx);
  const found: AzureIdentityInfo[] = [];
  for (const subscription of shared.subscriptions()) {
    let path: string | undefined = `/subscriptions/${subscription.id}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2024-11-30`;
    while (path) {
      const response = await ctx.internalFetch({ method: 'GET', path, host: 'management.azure.com', system: true });
      if (response.status !== 200) throw new Error(`graph: listing identities in ${subscription.id} answered ${response.status}`);
      const page = (typeof response.body === 'string' ? JSON.parse(response.body) : response.body) as { value?: Array<{ id: string }>; nextLink?: string };
      for (const item of page.value ?? []) {
        const identity = shared.identityByResourceId(item.id);
        if (identity) found.push(identity);
      }
      path = page.nextLink ? new URL(page.nextLink).pathname + new URL(page.nextLink).search : undefined;
    }
  }
  return found;
}

/** The `$filter` forms the CLI and SDKs send for service principals; others are refused as Graph does. */
function servicePrincipalFilter(filter: string): (sp: DirectoryEntry) => boolean {
  const quoted = "'((?:[^']|'')*)'";
  const unquote = (value: string) => value.replace(/''/g, "'").toLowerCase();
  const names = new RegExp(`^servicePrincipalNames/any\\((\\w+):\\s*\\1\\s+eq\\s+${quoted}\\)$`, 'i').exec(filter.trim());
  if (names) {
    const wanted = unquote(names[2]);
    return (entry) => entry.names.some((name) => name.toLowerCase() === wanted);
  }
  const field = new RegExp(`^(appId|id|displayName)\\s+eq\\s+${quoted}$`, 'i').exec(filter.trim());
  if (field) {
    const wanted = unquote(field[2]);
    const key = field[1].toLowerCase();
    return (entry) => (key === 'appid' ? entry.appId : key === 'id' ? entry.objectId : entry.displayName).toLowerCase() === wanted;
  }
  throw graphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified for property or navigation of resource 'servicePrincipal': ${filter}`);
}

function collection(entitySet: string, value: unknown[]): EmuResponse {
  return { status: 200, body: { '@odata.context': `${GRAPH_ROOT}/$metadata#${entitySet}`, value } };
}

export const graphModule: EmulatorModule = {
  name: 'graph',

  register(ctx) {
    const service = 'graph' as const;
    ctx.errorShapes.graph = (_status, code, message) => graphErrorBody(code, message);
    ctx.settings.graph = { directoryReaders: [] } satisfies GraphSettings;

    ctx.router.add('GET', '/v1.0/servicePrincipals', { service, name: 'graph.service-principals.list' }, async (req) => {
      const claims = await authenticate(ctx, req);
      requireDirectoryRead(ctx, claims);
      const filter = queryParam(req, '$filter');
      const entries = await allServicePrincipals(ctx);
      const matching = filter ? entries.filter(servicePrincipalFilter(filter)) : entries;
      return collection('servicePrincipals', matching.map((entry) => entry.render()));
    });

    ctx.router.add('GET', '/v1.0/servicePrincipals/:id', { service, name: 'graph.service-principals.get' }, async (req) => {
      const claims = await authenticate(ctx, req);
      requireDirectoryRead(ctx, claims);
      const entry = (await allServicePrincipals(ctx)).find((candidate) => candidate.objectId.toLowerCase() === req.params.id.toLowerCase());
      if (!entry) throw graphError(404, 'Request_ResourceNotFound', `Resource '${req.params.id}' does not exist or one of its queried reference-property objects are not present.`);
      return { status: 200, body: { '@odata.context': `${GRAPH_ROOT}/$metadata#servicePrincipals/$entity`, ...entry.render() } };
    });

    // A POST that only reads: counted as a read.
    ctx.router.add('POST', '/v1.0/directoryObjects/getByIds', { service, name: 'graph.directory-objects.get-by-ids', kind: 'read' }, async (req) => {
      const claims = await authenticate(ctx, req);
      requireDirectoryRead(ctx, claims);
      const body = jsonBody<{ ids?: unknown; types?: unknown }>(req, (message) => {
        throw graphError(400, 'BadRequest', message);
      });
      if (!body || !Array.isArray(body.ids) || body.ids.some((id) => typeof id !== 'string')) throw graphError(400, 'Request_BadRequest', "Invalid request: 'ids' must be a list of strings.");
      if (body.ids.length > 1000) throw graphError(400, 'Request_BadRequest', 'The number of ids cannot exceed 1000.');
      const types = Array.isArray(body.types) ? body.types.map((type) => String(type).toLowerCase()) : DIRECTORY_TYPES;
      const unknownType = types.find((type) => !DIRECTORY_TYPES.includes(type));
      if (unknownType) throw graphError(400, 'Request_BadRequest', `Invalid type '${unknownType}' specified in 'types'.`);
      const wanted = new Set((body.ids as string[]).map((id) => id.toLowerCase()));
      const found = types.includes('serviceprincipal') ? (await allServicePrincipals(ctx)).filter((entry) => wanted.has(entry.objectId.toLowerCase())) : [];
      return collection('directoryObjects', found.map((entry) => entry.render()));
    });
  },

  clear(ctx) {
    ctx.settings.graph = { directoryReaders: [] } satisfies GraphSettings;
  },

  seed(ctx, seed: SeedDocument) {
    const section = (seed.graph ?? {}) as GraphSeed;
    if (typeof section !== 'object' || Array.isArray(section)) throw new Error('seed graph: must be an object');
    const unknown = Object.keys(section).filter((key) => key !== 'directoryReaders');
    if (unknown.length > 0) throw new Error(`seed graph: unknown ${unknown.join(', ')}; known: directoryReaders`);
    const readers = section.directoryReaders ?? [];
    if (!Array.isArray(readers) || readers.some((reader) => typeof reader !== 'string')) throw new Error('seed graph.directoryReaders: must be a list of object ids');
    ctx.settings.graph = { directoryReaders: [...readers] } satisfies GraphSettings;
  },

  state(ctx) {
    return { graph: { directoryReaders: [...graphSettings(ctx).directoryReaders] } };
  },

  info() {
    return {};
  },
};
