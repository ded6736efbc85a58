// Reads every task input and agent fact the task uses — the only place that calls task-lib's getters.
// parseTaskConfig (config.ts) validates them; this file only collects raw strings.
import * as tl from 'azure-pipelines-task-lib/task';
import { factNames, inputNames, type RawValues } from '../config';

export function readTaskInputs(): { inputs: RawValues; facts: RawValues } {
  const inputs: Record<string, string | undefined> = {};
  for (const name of Object.values(inputNames)) inputs[name] = tl.getInput(name, false);

  // The agent passes the endpoint of a connectedService input under its id (lowercase GUID); getEndpointUrl
  // and getEndpointDataParameter read process.env case-sensitively, so use the id exactly as given.
  const id = inputs[inputNames.bootstrapConnection]?.trim() ?? '';
  const data = (key: string) => (id ? tl.getEndpointDataParameter(id, key, true) : undefined);
  const auth = (key: string) => (id ? tl.getEndpointAuthorizationParameter(id, key, true) : undefined);

  const facts: Record<string, string | undefined> = {
    [factNames.bootstrapTenantId]: auth('tenantid'),
    [factNames.bootstrapClientId]: auth('serviceprincipalid'),
    [factNames.bootstrapScheme]: id ? tl.getEndpointAuthorizationScheme(id, true) : undefined,
    [factNames.bootstrapSubscriptionId]: data('subscriptionId'),
    [factNames.bootstrapArmUrl]: id ? tl.getEndpointUrl(id, true) : undefined,
    [factNames.bootstrapEnvironment]: data('environment'),
    [factNames.bootstrapAuthorityHost]: data('environmentAuthorityUrl'),
    [factNames.bootstrapArmResourceId]: data('activeDirectoryServiceEndpointResourceId'),
    [factNames.bootstrapGraphUrl]: data('microsoftGraphUrl'),
    [factNames.collectionUri]: tl.getVariable('System.CollectionUri') ?? tl.getVariable('System.TeamFoundationCollectionUri'),
    [factNames.projectName]: tl.getVariable('System.TeamProject'),
    [factNames.projectId]: tl.getVariable('System.TeamProjectId'),
    [factNames.definitionId]: tl.getVariable('System.DefinitionId'),
    [factNames.hostType]: tl.getVariable('System.HostType'),
    [factNames.planId]: tl.getVariable('System.PlanId'),
    [factNames.jobId]: tl.getVariable('System.JobId'),
    [factNames.oidcRequestUri]: tl.getVariable('System.OidcRequestUri'),
    [factNames.sourceBranch]: tl.getVariable('Build.SourceBranch'),
    [factNames.sourcesDirectory]: tl.getVariable('Build.SourcesDirectory'),
    [factNames.defaultWorkingDirectory]: tl.getVariable('System.DefaultWorkingDirectory'),
    // What tl.getHttpProxyConfiguration and getHttpCertConfiguration read, as raw strings for config.ts to
    // check (task-lib would throw a bare SyntaxError on a bypass list that is not JSON).
    [factNames.proxyUrl]: tl.getVariable('Agent.ProxyUrl'),
    [factNames.proxyUsername]: tl.getVariable('Agent.ProxyUsername'),
    [factNames.proxyPassword]: tl.getVariable('Agent.ProxyPassword'),
    [factNames.proxyBypassList]: tl.getVariable('Agent.ProxyBypassList'),
    [factNames.caInfo]: tl.getVariable('Agent.CAInfo'),
    [factNames.repositoryName]: tl.getVariable('Build.Repository.Name'),
    [factNames.tempDirectory]: tl.getVariable('Agent.TempDirectory'),
    // The job token comes from the system connection, as in Microsoft's tasks, and only through
    // getEndpointAuthorization: task-lib debug-prints the value of whatever getEndpointAuthorizationParameter
    // or getVariable return, before the task could mask it. The agent always passes this connection.
    [factNames.accessToken]: tl.getEndpointAuthorization('SYSTEMVSSCONNECTION', true)?.parameters['AccessToken'],
  };
  return { inputs, facts };
}
