// `POST {org}/{projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken`:
// a running job trades its System.AccessToken for an ID token.
//
// - `serviceConnectionId` must be the GUID of a connection the job references; any other GUID gets the
//   service's Not Found ("There is no explicit reference to service connection …").
// - a name instead of a GUID, or no id at all, is not an error: the service ignores it and answers a
//   pipeline token (`sub = p://org/project/pipeline`).
// - AzurePipelinesCredential posts an empty body with `api-version=7.1`; node-api's TaskApi posts a claims
//   object with `7.2-preview.1` in the Accept header. Both are accepted; the claims are not used.
import { adoError, badRequest } from './ado-errors';
import { unauthorized } from './callers';
import type { DevOpsService } from './devops-service';
import { isWorkloadIdentityFederation } from './endpoint-types';
import { connectionIdToken, pipelineIdToken } from './id-tokens';
import { LOCATIONS } from './locations';
import { queryParam } from '../kernel/http';

const GUID = /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

export function noExplicitReference(connectionId: string, stageName: string, jobName: string): { count: number; value: string } {
  // The service wraps this message like a collection (`count` is the length of the string).
  const value = `There is no explicit reference to service connection ${connectionId} from current stage ${stageName}.${jobName}.__default.`;
  return { count: value.length, value };
}

export function registerOidcTokenRoute(service: DevOpsService): void {
  service.route(
    'POST',
    '/:organization/:scopeIdentifier/_apis/distributedtask/hubs/:hubName/plans/:planId/jobs/:jobId/oidctoken',
    { name: 'devops.oidctoken', location: LOCATIONS.oidcToken, kind: 'read' },
    async (req, call) => {
      const job = call.caller.job;
      // Only a job's own token may ask, and only for that job (a PAT or an Entra token gets 401).
      if (!job) throw unauthorized(service.world, req);
      const project = service.world.findProject(req.params.scopeIdentifier);
      const sameJob =
        project?.id === job.projectId &&
        req.params.hubName.toLowerCase() === job.hubName &&
        req.params.planId.toLowerCase() === job.planId &&
        req.params.jobId.toLowerCase() === job.jobId;
      if (!sameJob) throw adoError(404, 'ResourceNotFoundException', `Job ${req.params.jobId} of plan ${req.params.planId} was not found.`);

      const requested = (queryParam(req, 'serviceConnectionId') ?? '').trim();
      if (!GUID.test(requested)) return { status: 200, body: { oidcToken: await pipelineIdToken(service, job) } };

      const connectionId = requested.toLowerCase();
      const endpoint = service.world.endpoints.get(connectionId);
      if (!endpoint || !job.connectionIds.includes(connectionId)) return { status: 404, body: noExplicitReference(requested, job.stageName, job.jobName) };
      const name = service.world.projectReference(endpoint, job.projectId)?.name ?? endpoint.id;
      if (endpoint.isDisabled) throw badRequest(`The service connection ${name} is disabled and cannot be used.`);
      if (!isWorkloadIdentityFederation(endpoint)) throw badRequest(`The service connection ${name} does not use workload identity federation; it has no ID token.`);
      return { status: 200, body: { oidcToken: await connectionIdToken(service, endpoint) } };
    },
  );
}
