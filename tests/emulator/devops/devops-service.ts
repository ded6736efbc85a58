// The Azure DevOps module's shared plumbing: the current world, its settings, and `route()`, which puts
// every Azure DevOps route behind the same three gates in the service's order — the organization in the
// path must exist, the caller must authenticate (unless the resource is anonymous, like location data),
// and the api-version must suit the resource's location.
import { adoError } from './ado-errors';
import { negotiateApiVersion, type ApiLocation, type RequestedVersion } from './api-versions';
import { authenticate, type Caller } from './callers';
import { collectionUri } from './views';
import { DevOpsWorld } from './world';
import type { EmulatorContext } from '../kernel/context';
import type { EmuRequest, EmuResponse, RequestKind } from '../kernel/http';

export interface DevOpsSettings {
  /** Lifetime of System.AccessToken for simulated jobs. */
  jobAccessTokenLifetimeSeconds: number;
  /** Lifetime of ID tokens in the Entra issuer format (observed: 24 h 5 min). */
  entraIdTokenLifetimeSeconds: number;
  /** Lifetime of ID tokens in the legacy vstoken format and of pipeline tokens (decoded samples: 300 s). */
  legacyIdTokenLifetimeSeconds: number;
  /** A create body asking for `workloadIdentityFederationIssuerType: EntraID` gets it, whatever the organization's default [U]. */
  honourRequestedIssuerType: boolean;
  /** Updating (saving) a connection on the legacy issuer moves it to the Entra issuer; the PUT answer carries the new pair. */
  updateMovesToEntraIssuer: boolean;
  /** A caller with only the Reader role on a connection gets a stub from GET (id and name: no type, data or authorization). */
  readerSeesStub: boolean;
  /** How long one pipeline-permissions PATCH holds its project: an overlapping one answers 500 TF400898 (0: never). */
  pipelinePermissionsWriteMs: number;
  /** TestConnection believes client-sent `serviceEndpointDetails.authorization` (the service before its 2025-09-23 fix). */
  testConnectionUsesClientDetails: boolean;
  /**
   * ConvertAuthenticationScheme also converts connections created manually (creationMode Manual). Documented
   * only for Automatic ones (learn.microsoft.com *Connect to Azure*; docs/lifecycle.md "Convert"), so false by default; whether the service allows Manual is [U].
   */
  convertManualConnections: boolean;
  /** A conversion may name another client id than the secret's app registration (a managed identity) [U]. */
  convertAllowsNewClientId: boolean;
  /** A conversion keeps the secret (and sets data.revertSchemeDeadline) so that the same operation can revert it [U]. */
  convertKeepsSecret: boolean;
}

export function defaultDevOpsSettings(): DevOpsSettings {
  return {
    jobAccessTokenLifetimeSeconds: 86_400,
    entraIdTokenLifetimeSeconds: 86_700,
    legacyIdTokenLifetimeSeconds: 300,
    honourRequestedIssuerType: true,
    updateMovesToEntraIssuer: false,
    readerSeesStub: true,
    pipelinePermissionsWriteMs: 0,
    testConnectionUsesClientDetails: false,
    convertManualConnections: false,
    convertAllowsNewClientId: true,
    convertKeepsSecret: true,
  };
}

export interface RouteCall {
  /** Absent only on anonymous routes called without a token. */
  caller?: Caller;
  version?: RequestedVersion;
  /** `{origin}/{organization}/` as this request sees it (loopback or dev.azure.com through the proxy). */
  base: string;
}

export interface AuthenticatedCall extends RouteCall {
  caller: Caller;
}

interface RouteSpec {
  name: string;
  location?: ApiLocation;
  kind?: RequestKind;
  /** Location data and connectionData answer without a token (and say who is calling when there is one). */
  anonymous?: boolean;
}

export class DevOpsService {
  world = new DevOpsWorld();
  /** What the seed marked as the bootstrap connection and job (the JSON line's `bootstrapConnection`, `agentEnv`). */
  bootstrap: { connectionId?: string; jobId?: string } = {};

  constructor(readonly ctx: EmulatorContext) {}

  get settings(): DevOpsSettings {
    return this.ctx.settings.devops as DevOpsSettings;
  }

  /** The collection URI for out-of-request uses (agentEnv, the JSON line): the loopback origin. */
  get collectionUri(): string {
    return collectionUri(this.ctx.urls.origin, this.world);
  }

  route(method: string, pattern: string, spec: RouteSpec & { anonymous: true }, handler: (req: EmuRequest, call: RouteCall) => EmuResponse | Promise<EmuResponse>): void;
  route(method: string, pattern: string, spec: RouteSpec, handler: (req: EmuRequest, call: AuthenticatedCall) => EmuResponse | Promise<EmuResponse>): void;
  route(method: string, pattern: string, spec: RouteSpec, handler: (req: EmuRequest, call: AuthenticatedCall) => EmuResponse | Promise<EmuResponse>): void {
    this.ctx.router.add(method, pattern, { service: 'devops', name: spec.name, ...(spec.kind ? { kind: spec.kind } : {}) }, async (req) => {
      this.requireOrganization(req.params.organization);
      const base = collectionUri(req.origin, this.world);
      let caller: Caller | undefined;
      if (!spec.anonymous || req.headers.authorization) caller = await authenticate(this.ctx, this.world, req);
      const version = spec.location ? negotiateApiVersion(req, spec.location) : undefined;
      return handler(req, { caller: caller!, version, base });
    });
  }

  private requireOrganization(name: string | undefined): void {
    if (name && name.toLowerCase() === this.world.organization.name.toLowerCase()) return;
    throw adoError(404, 'OrganizationNotFoundException', `The organization '${name ?? ''}' could not be found.`);
  }
}
