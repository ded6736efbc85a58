// ID tokens Azure DevOps signs: one per service connection (issuer and subject exactly as the connection
// stores them, so a connection the organization moved to the other issuer immediately presents the new
// pair), and pipeline tokens for requests that name no connection GUID.
import type { DevOpsService } from './devops-service';
import { parameter } from './endpoint-store';
import { AZURE_DEVOPS_APP_ID, azureDevOpsIssuer, ISSUER_TYPES, TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_AUDIENCE } from './issuer-formats';
import type { ServiceEndpoint, SimulatedJob } from './world';

export async function connectionIdToken(service: DevOpsService, endpoint: ServiceEndpoint): Promise<string> {
  const parameters = endpoint.authorization.parameters;
  const issuerType = parameter(parameters, 'workloadIdentityFederationIssuerType');
  const entra = issuerType === ISSUER_TYPES.entra;
  const claims: Record<string, unknown> = {
    iss: parameter(parameters, 'workloadIdentityFederationIssuer'),
    sub: parameter(parameters, 'workloadIdentityFederationSubject'),
    aud: TOKEN_EXCHANGE_AUDIENCE,
  };
  // Entra-issued tokens name the token-exchange audience by its app id (decoded tokens, Teleport RFD 211);
  // Entra treats it as api://AzureADTokenExchange when matching federated credentials.
  if (entra) Object.assign(claims, { aud: TOKEN_EXCHANGE_APP_ID, tid: parameter(parameters, 'tenantid'), azp: AZURE_DEVOPS_APP_ID, idtyp: 'app', ver: '2.0' });
  const lifetime = entra ? service.settings.entraIdTokenLifetimeSeconds : service.settings.legacyIdTokenLifetimeSeconds;
  const token = await service.ctx.keys.devops.sign(claims, lifetime);
  return service.ctx.tokens.record('id-token', token);
}

/** `sub = p://{organization}/{project}/{pipeline}` in the vstoken format, with the pipeline's ids as claims. */
export async function pipelineIdToken(service: DevOpsService, job: SimulatedJob): Promise<string> {
  const world = service.world;
  const project = world.projects.find((candidate) => candidate.id === job.projectId);
  const pipeline = world.findPipeline(job.projectId, job.pipelineId);
  const claims = {
    iss: azureDevOpsIssuer(world.organization.id),
    sub: `p://${world.organization.name}/${project?.name ?? ''}/${pipeline?.name ?? ''}`,
    aud: TOKEN_EXCHANGE_AUDIENCE,
    org_id: world.organization.id,
    prj_id: job.projectId,
    def_id: String(job.pipelineId),
    run_id: String(job.runId),
  };
  const token = await service.ctx.keys.devops.sign(claims, service.settings.legacyIdTokenLifetimeSeconds);
  return service.ctx.tokens.record('id-token', token);
}
