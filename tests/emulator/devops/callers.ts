// Who is calling: Azure DevOps accepts a job access token (System.AccessToken, which the emulator signs
// with its Azure DevOps key), a session token the control API mints for seeded users (standing in for a
// PAT or an interactive sign-in), or an Entra access token for Azure DevOps whose `oid` belongs to a
// member of the organization (service principals and managed identities added as users).
//
// Failures answer 401 with JSON, never a sign-in page: the emulator behaves as if every client sent
// `X-TFS-FedAuthRedirect: Suppress`.
import type { JWTPayload } from 'jose';
import { adoError } from './ado-errors';
import { AZURE_DEVOPS_APP_ID } from './issuer-formats';
import type { DevOpsWorld, Identity, SimulatedJob } from './world';
import type { EmulatorContext } from '../kernel/context';
import { header, type EmuRequest } from '../kernel/http';
import { peekToken, TokenCheckError, verifyToken } from '../kernel/tokens';

/** `iss` of the tokens Azure DevOps itself signs (job access tokens and session tokens). */
export const AZURE_DEVOPS_TOKEN_ISSUER = 'app.vstoken.visualstudio.com';

export interface Caller {
  identity: Identity;
  /** Set when the token is a job access token: the job it was issued to. */
  job?: SimulatedJob;
  via: 'job-access-token' | 'session-token' | 'entra-access-token';
}

const ANONYMOUS = 'TF400813: Resource not available for anonymous access. Client authentication required.';

export function unauthorized(world: DevOpsWorld, req: EmuRequest, message = ANONYMOUS): Error {
  const headers: Record<string, string> = {
    'www-authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/${world.organization.tenantId ?? 'common'}, Basic realm="${req.origin}/"`,
    'x-tfs-fedauthrealm': `${req.origin}/`,
  };
  if (world.organization.tenantId) headers['x-vss-resourcetenant'] = world.organization.tenantId;
  return adoError(401, 'UnauthorizedRequestException', message, headers);
}

/** The bearer token, or the password of Basic auth (`curl -u :$(System.AccessToken)` works too). */
export function presentedToken(req: EmuRequest): string | undefined {
  const authorization = header(req, 'authorization');
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+(.+)$/i.exec(authorization);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1].trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : decoded;
}

function audiences(claims: JWTPayload): string[] {
  return Array.isArray(claims.aud) ? claims.aud : claims.aud ? [claims.aud] : [];
}

/** The caller, or a 401 in Azure DevOps' words. */
export async function authenticate(ctx: EmulatorContext, world: DevOpsWorld, req: EmuRequest): Promise<Caller> {
  const token = presentedToken(req);
  if (!token) throw unauthorized(world, req);
  const peeked = peekToken(token);
  if (!peeked) throw unauthorized(world, req);
  try {
    if (peeked.iss === AZURE_DEVOPS_TOKEN_ISSUER) return await fromAzureDevOpsToken(ctx, world, req, token);
    if (audiences(peeked).some((aud) => aud === AZURE_DEVOPS_APP_ID || aud === `api://${AZURE_DEVOPS_APP_ID}`)) return await fromEntraToken(ctx, world, req, token);
  } catch (error) {
    if (error instanceof TokenCheckError) throw unauthorized(world, req);
    throw error;
  }
  throw unauthorized(world, req);
}

async function fromAzureDevOpsToken(ctx: EmulatorContext, world: DevOpsWorld, req: EmuRequest, token: string): Promise<Caller> {
  const claims = await verifyToken(token, ctx.keys.devops);
  if (claims.aud !== `${AZURE_DEVOPS_TOKEN_ISSUER}|vso:${world.organization.id}`) throw unauthorized(world, req);
  const identity = world.findIdentity(String(claims.nameid ?? ''));
  if (!identity) throw unauthorized(world, req);
  if (typeof claims.job_id === 'string') {
    // A job token outlives nothing: after a reset (or for a job the world no longer has) it is void.
    const job = world.jobs.get(claims.job_id.toLowerCase());
    if (!job || job.accessToken !== token) throw unauthorized(world, req);
    return { identity, job, via: 'job-access-token' };
  }
  return { identity, via: 'session-token' };
}

async function fromEntraToken(ctx: EmulatorContext, world: DevOpsWorld, req: EmuRequest, token: string): Promise<Caller> {
  const claims = await verifyToken(token, ctx.keys.entra);
  const objectId = String(claims.oid ?? '');
  if (!world.organization.tenantId || String(claims.tid ?? '').toLowerCase() !== world.organization.tenantId.toLowerCase()) {
    throw unauthorized(world, req, `TF400813: The user '${objectId}' is not authorized to access this resource.`);
  }
  const identity = world.identities.find((candidate) => candidate.entraObjectId?.toLowerCase() === objectId.toLowerCase());
  if (!identity) throw unauthorized(world, req, `TF400813: The user '${objectId}' is not authorized to access this resource.`);
  return { identity, via: 'entra-access-token' };
}
