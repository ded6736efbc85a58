// Every task input and agent fact, read once into a frozen, validated TaskConfig. Pure: the input reader
// collects the raw strings (tl.getInput, tl.getVariable, tl.getEndpoint*) and nothing else in the task reads
// an input. Every problem is reported at once, naming the input and what is allowed.
//
// Two ways in, one config type: parseTaskConfig for the pipeline task (inputs + agent facts + the bootstrap
// connection) and parseCliConfig for the local CLI (its command-line options). They differ only in how the
// run signs in (`source`); the core reads the same fields from both.
import { parse as parseYaml } from 'yaml';
import { problem, TaskError, type ErrorCode, type Problem } from './errors';
import { environmentNameRule, guidRule, locationRule, resourceGroupNameRule } from './core/names';
import { migrationScopes, type MigrationScope } from './core/migrate-issuer';
import type { ProjectRef } from './ports/devops';
import { Secret } from './secret';

export type Command = 'plan' | 'provision' | 'verify' | 'audit' | 'teardown' | 'migrate-issuer' | 'convert';
export type DevOpsAuth = 'systemAccessToken' | 'bootstrapIdentity';
export type TextSource = { readonly kind: 'inline'; readonly text: string } | { readonly kind: 'file'; readonly path: string };
/** `none`: the audit without a spec (every other command needs one). */
export type EnvironmentsSource = TextSource | { readonly kind: 'none' };

/** What the audit fails on (auditFailOn): each names a kind of connection that makes the audit fail. */
export const auditRules = ['secret', 'legacyIssuer', 'appRegistration', 'notOwned', 'drift', 'neverUsed'] as const;
export type AuditRule = (typeof auditRules)[number];

/** Which connections the audit lists: the project's, or those of every project the caller can read. */
export const auditScopes = ['project', 'organization'] as const;
export type AuditScope = (typeof auditScopes)[number];

export interface AuditSettings {
  readonly failOn: readonly AuditRule[];
  readonly scope: AuditScope;
  /** Where audit.json and audit.csv are written; relative to the working directory. */
  readonly outputDirectory: string;
}

/** Task input names, as declared in task.json. Public interface: never rename. */
export const inputNames = {
  command: 'command',
  bootstrapConnection: 'bootstrapConnection',
  environments: 'environments',
  environmentsFile: 'environmentsFile',
  only: 'only',
  devOpsAuth: 'devOpsAuth',
  allowPrivilegedRoles: 'allowPrivilegedRoles',
  concurrency: 'concurrency',
  propagationTimeoutSeconds: 'propagationTimeoutSeconds',
  queueVerificationRun: 'queueVerificationRun',
  verificationRunParameters: 'verificationRunParameters',
  waitForVerificationRun: 'waitForVerificationRun',
  verificationRunTimeoutMinutes: 'verificationRunTimeoutMinutes',
  specSource: 'specSource',
  // Governance (escalation guard, platform policy)
  bootstrapIdentityResourceId: 'bootstrapIdentityResourceId',
  policy: 'policy',
  policyFile: 'policyFile',
  auditFailOn: 'auditFailOn',
  auditOutputDirectory: 'auditOutputDirectory',
  auditScope: 'auditScope',
  prune: 'prune',
  maxDeletions: 'maxDeletions',
  keepConnectionsUsedWithinDays: 'keepConnectionsUsedWithinDays',
  deleteUsedConnections: 'deleteUsedConnections',
  // Issuer migration (docs/lifecycle.md)
  migrationScope: 'migrationScope',
  migrateUnowned: 'migrateUnowned',
  dryRun: 'dryRun',
  // The convert command (docs/lifecycle.md, "Convert")
  convertConnections: 'convertConnections',
  convertIdentityResourceGroup: 'convertIdentityResourceGroup',
  convertIdentityLocation: 'convertIdentityLocation',
} as const;

/**
 * Agent and endpoint facts, by the names the input reader fills them under. For the bootstrap connection
 * `<id>` these come from the agent's ENDPOINT_* variables (tl.getEndpointAuthorizationParameter /
 * getEndpointDataParameter / getEndpointUrl); the rest are pipeline variables (tl.getVariable).
 */
export const factNames = {
  bootstrapTenantId: 'bootstrap.tenantId', // auth parameter tenantid
  bootstrapClientId: 'bootstrap.clientId', // auth parameter serviceprincipalid
  bootstrapSubscriptionId: 'bootstrap.subscriptionId', // data subscriptionId (optional)
  bootstrapScheme: 'bootstrap.scheme', // authorization scheme
  bootstrapArmUrl: 'bootstrap.armUrl', // endpoint url
  bootstrapEnvironment: 'bootstrap.environment', // data environment (AzureCloud…)
  bootstrapAuthorityHost: 'bootstrap.authorityHost', // data environmentAuthorityUrl
  bootstrapArmResourceId: 'bootstrap.armResourceId', // data activeDirectoryServiceEndpointResourceId
  bootstrapGraphUrl: 'bootstrap.graphUrl', // data microsoftGraphUrl [U] (convert only)
  collectionUri: 'System.CollectionUri',
  projectName: 'System.TeamProject',
  projectId: 'System.TeamProjectId',
  definitionId: 'System.DefinitionId',
  hostType: 'System.HostType',
  planId: 'System.PlanId',
  jobId: 'System.JobId',
  oidcRequestUri: 'System.OidcRequestUri',
  sourceBranch: 'Build.SourceBranch',
  repositoryName: 'Build.Repository.Name',
  tempDirectory: 'Agent.TempDirectory',
  accessToken: 'System.AccessToken',
  // Where the agent roots filePath inputs (docs/architecture.md, "The agent's input translation").
  sourcesDirectory: 'Build.SourcesDirectory',
  defaultWorkingDirectory: 'System.DefaultWorkingDirectory',
  // The agent's proxy and certificate settings (the variables task-lib's getHttpProxyConfiguration and
  // getHttpCertConfiguration read; docs/architecture.md, "The agent's network settings").
  proxyUrl: 'Agent.ProxyUrl',
  proxyUsername: 'Agent.ProxyUsername',
  proxyPassword: 'Agent.ProxyPassword',
  proxyBypassList: 'Agent.ProxyBypassList',
  caInfo: 'Agent.CAInfo',
} as const;

export type RawValues = Readonly<Record<string, string | undefined>>;

export interface BootstrapConnection {
  /** The connection id (the bootstrapConnection input). */
  readonly id: string;
  readonly tenantId: string;
  /** The bootstrap identity's client id. */
  readonly clientId: string;
  readonly subscriptionId?: string;
  /** The bootstrap identity's resource id (bootstrapIdentityResourceId); absent: found by client id when needed. */
  readonly identityResourceId?: string;
}

/** The Azure cloud the run talks to: from the bootstrap connection in a pipeline, from options in the CLI. */
export interface AzureCloud {
  /** ARM endpoint, e.g. https://management.azure.com/ — also stored in every connection the task creates. */
  readonly armUrl: string;
  /** e.g. AzureCloud — also stored in every connection the task creates. */
  readonly azureEnvironment: string;
  /** Entra authority host, e.g. https://login.microsoftonline.com/ */
  readonly authorityHost: string;
  /** The audience of ARM tokens, e.g. https://management.azure.com/ */
  readonly armResourceId: string;
  /** Microsoft Graph (convert reads service principals there); absent: the cloud's public Graph (composition.ts). */
  readonly graphUrl?: string;
}

export interface PipelineContext {
  readonly collectionUri: string;
  /** In the CLI only one of id and name may be known until the composition root looks the project up. */
  readonly project: ProjectRef;
  /** The running pipeline's definition id (authorize: current); absent outside a pipeline run. */
  readonly definitionId?: number;
  readonly hostType?: string;
  readonly planId?: string;
  readonly jobId?: string;
  readonly oidcRequestUri?: string;
  readonly sourceBranch?: string;
  /** Build.Repository.Name: which platform policy rule applies. */
  readonly repositoryName?: string;
  /** System.AccessToken; required with devOpsAuth: systemAccessToken. */
  readonly accessToken?: Secret;
}

/**
 * After provision, queue this pipeline again to use the new connections: Azure Pipelines resolves connection
 * names when a run is compiled, so only a later run can prove them in a real job.
 */
export interface VerificationRunSettings {
  readonly queue: boolean;
  /** templateParameters of the queued run. */
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  readonly wait: boolean;
  readonly timeoutMinutes: number;
}

interface ConfigBase {
  readonly command: Command;
  readonly environments: EnvironmentsSource;
  /** Environment names to act on; empty: all. */
  readonly only: readonly string[];
  readonly allowPrivilegedRoles: boolean;
  readonly concurrency: number;
  readonly propagationTimeoutSeconds: number;
  readonly verificationRun: VerificationRunSettings;
  /** The platform policy (policy or policyFile); absent: no policy. */
  readonly policy?: TextSource;
  /** The audit command's settings. */
  readonly audit?: AuditSettings;
  readonly cloud: AzureCloud;
  readonly pipeline: PipelineContext;
  readonly lifecycle: LifecycleInputs;
  /** The convert command's settings (only for command convert). */
  readonly convert?: ConvertSettings;
}

/** Secret → workload identity conversion (docs/lifecycle.md, "Convert"). */
export interface ConvertSettings {
  /** Connection names, or `*`: every service-principal-secret AzureRM connection of the project. */
  readonly connections: readonly string[] | '*';
  /** Where the managed identities convert creates go; absent: only connections a spec environment names. */
  readonly target?: { readonly subscriptionId: string; readonly resourceGroup: string; readonly location: string };
}

/** Deleting what the task owns and the spec no longer names (docs/lifecycle.md). */
export interface LifecycleInputs {
  /** provision deletes owned objects that are not in the spec (plan shows it); off: they are warnings. */
  readonly prune: boolean;
  readonly maxDeletions: number;
  readonly keepConnectionsUsedWithinDays: number;
  readonly deleteUsedConnections: boolean;
  /** migrate-issuer, teardown and convert: print the plan and write nothing. */
  readonly dryRun: boolean;
  /** migrate-issuer: which connections, and whether ones the task does not own may be migrated. */
  readonly migration: { readonly scope: MigrationScope; readonly includeUnowned: boolean };
}

/** The proxy the agent is configured with (its `--proxyurl` options), for every request of the task. */
export interface AgentProxy {
  /** http(s)://host:port, without credentials. */
  readonly url: string;
  readonly username?: string;
  readonly password?: Secret;
  /** Regular expressions (case-insensitive) matched against a request's URL: those go direct. */
  readonly bypass: readonly string[];
}

/** How the agent reaches the network: its proxy and an extra certificate authority to trust. */
export interface AgentNetwork {
  readonly proxy?: AgentProxy;
  /** A PEM file of certificate authorities to trust besides Node's own (the agent's `--sslcacert`). */
  readonly caFile?: string;
}

/** The task in a pipeline job: signs in as the bootstrap connection's workload identity. */
export interface PipelineConfig extends ConfigBase {
  readonly source: 'pipeline';
  readonly devOpsAuth: DevOpsAuth;
  readonly bootstrap: BootstrapConnection;
  readonly network: AgentNetwork;
}

/** The CLI on a workstation: signs in with the Azure CLI's account (and a PAT for Azure DevOps, if given). */
export interface CliConfig extends ConfigBase {
  readonly source: 'cli';
  /** --tenant-id; absent: the tenant of the Azure CLI's current account. */
  readonly tenantId?: string;
}

export type TaskConfig = PipelineConfig | CliConfig;

/**
 * CLI option names, without the leading `--` (the command is the first positional argument). Public
 * interface, listed by `--help` and docs/cli.md: never rename.
 */
export const cliOptionNames = {
  command: 'command',
  environmentsFile: 'environments-file',
  only: 'only',
  organization: 'organization',
  project: 'project',
  allowPrivilegedRoles: 'allow-privileged-roles',
  concurrency: 'concurrency',
  propagationTimeoutSeconds: 'propagation-timeout-seconds',
  tenantId: 'tenant-id',
  armEndpoint: 'arm-endpoint',
  armResource: 'arm-resource',
  authorityHost: 'authority-host',
  azureEnvironment: 'azure-environment',
  pipelineId: 'pipeline-id',
  failOn: 'fail-on',
  outputDirectory: 'output-directory',
  scope: 'scope',
  prune: 'prune',
  maxDeletions: 'max-deletions',
  keepConnectionsUsedWithinDays: 'keep-connections-used-within-days',
  deleteUsedConnections: 'delete-used-connections',
  migrationScope: 'migration-scope',
  migrateUnowned: 'migrate-unowned',
  dryRun: 'dry-run',
  connections: 'connections',
  identityResourceGroup: 'identity-resource-group',
  identityLocation: 'identity-location',
} as const;

export const cloudDefaults = {
  armUrl: 'https://management.azure.com/',
  azureEnvironment: 'AzureCloud',
  authorityHost: 'https://login.microsoftonline.com/',
  armResourceId: 'https://management.azure.com/',
} as const;

export const inputLimits = {
  concurrency: { min: 1, max: 64, default: 16 },
  propagationTimeoutSeconds: { min: 10, max: 3600, default: 300 },
  verificationRunTimeoutMinutes: { min: 1, max: 360, default: 30 },
  maxDeletions: { min: 0, max: 1000, default: 10 },
  keepConnectionsUsedWithinDays: { min: 0, max: 3650, default: 30 },
} as const;

const defaultVerificationRunParameters = { mode: 'verify' };

const commands: readonly Command[] = ['plan', 'provision', 'verify', 'audit', 'teardown', 'migrate-issuer', 'convert'];
const devOpsAuths: readonly DevOpsAuth[] = ['systemAccessToken', 'bootstrapIdentity'];

/** Throws one TaskError (MIC100, or the single problem's own code) listing every problem found. */
export function parseTaskConfig(inputs: RawValues, facts: RawValues): PipelineConfig {
  const read = new RawReader((name) => name);
  const command = read.choice(inputs, inputNames.command, commands, 'provision');
  const bootstrapId = read.required(inputs, inputNames.bootstrapConnection, 'MIC101');
  if (bootstrapId !== undefined && !guidRule.pattern.test(bootstrapId)) {
    read.report('MIC102', inputNames.bootstrapConnection, `bootstrapConnection must be the id of an Azure Resource Manager service connection (a GUID); got ${JSON.stringify(bootstrapId)}.`);
  }
  const only = readOnly(read, inputs, inputNames.only);
  const lifecycle = readLifecycle(read, inputs, inputNames, command, only);
  const environments = readEnvironmentsSource(read, inputs, facts, specOptional(command, lifecycle));
  const devOpsAuth = read.choice(inputs, inputNames.devOpsAuth, devOpsAuths, 'systemAccessToken');
  const allowPrivilegedRoles = read.boolean(inputs, inputNames.allowPrivilegedRoles, false);
  const concurrency = read.integer(inputs, inputNames.concurrency, inputLimits.concurrency);
  const propagationTimeoutSeconds = read.integer(inputs, inputNames.propagationTimeoutSeconds, inputLimits.propagationTimeoutSeconds);
  const verificationRun = readVerificationRun(read, inputs);
  const { identityResourceId, policy } = readGovernanceInputs(read, inputs, facts);
  const audit = command === 'audit' ? readAuditSettings(read, inputs, { failOn: inputNames.auditFailOn, directory: inputNames.auditOutputDirectory, scope: inputNames.auditScope }, read.optional(facts, factNames.tempDirectory) ?? '.') : undefined;
  const bootstrap = { ...readBootstrap(read, facts, bootstrapId ?? ''), ...(identityResourceId === undefined ? {} : { identityResourceId }) };
  const cloud = readBootstrapCloud(read, facts);
  const pipeline = readPipeline(read, facts, devOpsAuth);
  const network = readNetwork(read, facts);
  if (command === 'provision' && verificationRun.queue) checkVerificationRunPipeline(read, pipeline);
  const convert = command === 'convert' ? readConvertSettings(read, inputs, { connections: inputNames.convertConnections, resourceGroup: inputNames.convertIdentityResourceGroup, location: inputNames.convertIdentityLocation }, environments) : undefined;

  if (read.problems.length > 0) {
    throw TaskError.aggregate(read.problems, `The task inputs have ${read.problems.length} problems; nothing was changed.`);
  }
  return deepFreeze({
    source: 'pipeline',
    command,
    environments: environments!,
    only,
    devOpsAuth,
    allowPrivilegedRoles,
    concurrency,
    propagationTimeoutSeconds,
    verificationRun,
    ...(policy === undefined ? {} : { policy }),
    ...(audit === undefined ? {} : { audit }),
    bootstrap,
    cloud,
    pipeline,
    network,
    lifecycle,
    ...(convert === undefined ? {} : { convert }),
  } satisfies PipelineConfig);
}

/**
 * The CLI's options (values by cliOptionNames; flags as "true"). The same rules as the task's inputs where
 * the two share a meaning; problems name the option (`--concurrency`). No verification run: the CLI is not
 * a pipeline run, so there is nothing to queue again.
 */
export function parseCliConfig(options: RawValues): CliConfig {
  const names = cliOptionNames;
  const read = new RawReader((name) => (name === names.command ? name : `--${name}`), 'option');
  if (read.optional(options, names.command) === undefined) read.report('MIC101', names.command, `Name a command first: ${commands.join(', ')}.`);
  const command = read.choice(options, names.command, commands, 'plan');
  const only = readOnly(read, options, names.only);
  const lifecycle = readLifecycle(read, options, names, command, only);
  const file = specOptional(command, lifecycle) ? read.optional(options, names.environmentsFile) : read.required(options, names.environmentsFile, 'MIC101');
  const audit = command === 'audit' ? readAuditSettings(read, options, { failOn: names.failOn, directory: names.outputDirectory, scope: names.scope }, '.') : undefined;
  const allowPrivilegedRoles = read.boolean(options, names.allowPrivilegedRoles, false);
  const concurrency = read.integer(options, names.concurrency, inputLimits.concurrency);
  const propagationTimeoutSeconds = read.integer(options, names.propagationTimeoutSeconds, inputLimits.propagationTimeoutSeconds);
  const convert = command === 'convert' ? readConvertSettings(read, options, { connections: names.connections, resourceGroup: names.identityResourceGroup, location: names.identityLocation }, file === undefined ? { kind: 'none' } : { kind: 'file', path: file }) : undefined;
  const tenantId = read.guid(options, names.tenantId, { required: false, code: 'MIC102' });
  const armUrl = read.url(options, names.armEndpoint, cloudDefaults.armUrl, 'MIC102');
  const cloud: AzureCloud = {
    armUrl,
    azureEnvironment: read.optional(options, names.azureEnvironment) ?? cloudDefaults.azureEnvironment,
    authorityHost: read.url(options, names.authorityHost, cloudDefaults.authorityHost, 'MIC102'),
    // ARM accepts tokens issued for its own endpoint, which is also what the SDK asks for by default;
    // --arm-resource is for a cloud or an emulator that wants another audience.
    armResourceId: read.url(options, names.armResource, armUrl, 'MIC102'),
  };
  const pipeline: PipelineContext = {
    collectionUri: readOrganization(read, options),
    project: readProject(read, options),
    ...optionalNumber('definitionId', read.id(options, names.pipelineId, 'MIC102')),
  };

  if (read.problems.length > 0) {
    throw TaskError.aggregate(read.problems, `The command line has ${read.problems.length} problems; nothing was read or changed.`);
  }
  return deepFreeze({
    source: 'cli',
    command,
    environments: file === undefined ? { kind: 'none' } : { kind: 'file', path: file },
    ...(audit === undefined ? {} : { audit }),
    only,
    allowPrivilegedRoles,
    concurrency,
    propagationTimeoutSeconds,
    verificationRun: { queue: false, parameters: {}, wait: false, timeoutMinutes: inputLimits.verificationRunTimeoutMinutes.default },
    cloud,
    pipeline,
    lifecycle,
    ...(convert === undefined ? {} : { convert }),
    ...(tenantId === undefined ? {} : { tenantId }),
  } satisfies CliConfig);
}

/** `https://dev.azure.com/contoso/`, or a bare organization name for Azure DevOps Services. */
function readOrganization(read: RawReader, options: RawValues): string {
  const name = cliOptionNames.organization;
  const value = read.optional(options, name);
  if (value !== undefined && /^[A-Za-z0-9][A-Za-z0-9-]{0,49}$/.test(value)) return `https://dev.azure.com/${value}/`;
  const url = read.url(options, name, undefined, 'MIC102');
  return url === '' || url.endsWith('/') ? url : `${url}/`;
}

/** A project name or id; the composition root looks up the other half. */
function readProject(read: RawReader, options: RawValues): ProjectRef {
  const value = read.required(options, cliOptionNames.project, 'MIC101') ?? '';
  return guidRule.pattern.test(value) ? { id: value.toLowerCase(), name: '' } : { id: '', name: value };
}

/**
 * The verification run is this pipeline again (System.DefinitionId). A classic release has a release
 * definition id there, not a pipeline's; outside any run there is none.
 */
function checkVerificationRunPipeline(read: RawReader, pipeline: PipelineContext): void {
  if (pipeline.definitionId === undefined) {
    read.report('MIC411', inputNames.queueVerificationRun, 'queueVerificationRun is true, but this is not a pipeline run (System.DefinitionId is not set), so there is no pipeline to queue again.');
  } else if (pipeline.hostType !== undefined && pipeline.hostType.toLowerCase() !== 'build') {
    read.report('MIC411', inputNames.queueVerificationRun, `queueVerificationRun is true, but this is a ${pipeline.hostType} run, not a pipeline (build) run; only a pipeline can be queued again.`);
  }
}

/** The lifecycle inputs; teardown must name its environments, so that no typo tears down a whole spec. */
function readLifecycle(
  read: RawReader,
  raw: RawValues,
  names: {
    readonly prune: string;
    readonly maxDeletions: string;
    readonly keepConnectionsUsedWithinDays: string;
    readonly deleteUsedConnections: string;
    readonly only: string;
    readonly migrationScope: string;
    readonly migrateUnowned: string;
    readonly dryRun: string;
  },
  command: Command,
  only: readonly string[],
): LifecycleInputs {
  if (command === 'teardown' && only.length === 0) {
    read.report('MIC150', names.only, `The teardown command deletes every object the task owns in the environments it is given: name them in ${read.label(names.only)} (comma-separated).`);
  }
  return {
    prune: read.boolean(raw, names.prune, false),
    maxDeletions: read.integer(raw, names.maxDeletions, inputLimits.maxDeletions),
    keepConnectionsUsedWithinDays: read.integer(raw, names.keepConnectionsUsedWithinDays, inputLimits.keepConnectionsUsedWithinDays),
    deleteUsedConnections: read.boolean(raw, names.deleteUsedConnections, false),
    dryRun: read.boolean(raw, names.dryRun, false),
    migration: {
      scope: command === 'migrate-issuer' ? read.choice(raw, names.migrationScope, migrationScopes, 'spec') : 'spec',
      includeUnowned: read.boolean(raw, names.migrateUnowned, false),
    },
  };
}

/** The audit, convert, and migrate-issuer over the whole project, need no spec; every other command acts on one. */
function specOptional(command: Command, lifecycle: LifecycleInputs): boolean {
  return command === 'audit' || command === 'convert' || (command === 'migrate-issuer' && lifecycle.migration.scope === 'project');
}

const convertResourceGroupPattern = /^\/subscriptions\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\/resourceGroups\/([^/]+)\/?$/i;

/**
 * convert's inputs: which connections (names or `*`), and where new identities go. Without a spec, the
 * resource group and location are required; with one, they are needed only for connections the spec does not
 * name (the plan refuses those, MIC441).
 */
function readConvertSettings(
  read: RawReader,
  raw: RawValues,
  names: { readonly connections: string; readonly resourceGroup: string; readonly location: string },
  environments: EnvironmentsSource | undefined,
): ConvertSettings {
  const listed = (read.optional(raw, names.connections) ?? '')
    .split(/[,\n]/)
    .map((name) => name.trim())
    .filter((name) => name !== '');
  let connections: readonly string[] | '*' = listed;
  if (listed.length === 0) {
    read.report('MIC440', names.connections, `Name the connections to convert in ${read.label(names.connections)} (comma-separated names), or * for every service-principal-secret connection of the project.`);
  } else if (listed.includes('*')) {
    if (listed.length > 1) read.report('MIC440', names.connections, `${read.label(names.connections)} is either * or a list of names, not both.`);
    connections = '*';
  } else {
    const duplicate = listed.find((name, index) => listed.findIndex((other) => other.toLowerCase() === name.toLowerCase()) !== index);
    if (duplicate !== undefined) read.report('MIC440', names.connections, `${read.label(names.connections)} names ${JSON.stringify(duplicate)} twice.`);
  }
  const group = read.optional(raw, names.resourceGroup);
  const location = read.optional(raw, names.location);
  const withoutSpec = environments === undefined || environments.kind === 'none';
  let target: ConvertSettings['target'];
  if (group === undefined) {
    if (withoutSpec) read.report('MIC440', names.resourceGroup, `Without an environments spec, ${read.label(names.resourceGroup)} is required: the resource group (/subscriptions/{id}/resourceGroups/{name}) where convert creates one managed identity per connection.`);
    if (location !== undefined) read.report('MIC440', names.location, `${read.label(names.location)} is set but ${read.label(names.resourceGroup)} is not; set both or neither.`);
  } else {
    const match = convertResourceGroupPattern.exec(group);
    if (!match || !resourceGroupNameRule.pattern.test(match[2]!)) {
      read.report('MIC440', names.resourceGroup, `${read.label(names.resourceGroup)} must be /subscriptions/{subscription GUID}/resourceGroups/{name} (${resourceGroupNameRule.description}); got ${JSON.stringify(group)}.`);
    } else if (location === undefined || !locationRule.pattern.test(location)) {
      read.report('MIC440', names.location, `${read.label(names.location)} must be ${locationRule.description} (the location of the identities convert creates); got ${JSON.stringify(location ?? '')}.`);
    } else {
      target = { subscriptionId: match[1]!.toLowerCase(), resourceGroup: match[2]!, location: location.toLowerCase().replace(/\s+/g, '') };
    }
  }
  return { connections, ...(target === undefined ? {} : { target }) };
}

/** specSource values: which of the pair the editor shows and the task reads. */
export const specSources = ['inline', 'file'] as const;
export type SpecSource = (typeof specSources)[number];

/**
 * The environments spec: inline text or a file. specSource (the editor's pick list) names the one to read and
 * the other is ignored, since the classic editor keeps a hidden input's old value; without specSource the
 * pair rules apply: exactly one of them set.
 */
function readEnvironmentsSource(read: RawReader, inputs: RawValues, facts: RawValues, optional: boolean): EnvironmentsSource | undefined {
  const text = read.optional(inputs, inputNames.environments);
  const path = suppliedFilePath(read.optional(inputs, inputNames.environmentsFile), facts);
  const chosen = read.optional(inputs, inputNames.specSource) === undefined ? undefined : read.choice(inputs, inputNames.specSource, specSources, 'inline');
  if (chosen === 'inline') {
    if (text !== undefined) return { kind: 'inline', text: inputs[inputNames.environments]! };
    read.report('MIC103', inputNames.environments, 'specSource is inline but environments is empty; give the environments spec inline, or set specSource to file.');
    return undefined;
  }
  if (chosen === 'file') {
    if (path !== undefined) return { kind: 'file', path };
    read.report('MIC103', inputNames.environmentsFile, 'specSource is file but environmentsFile is empty; give the path of the environments file, or set specSource to inline.');
    return undefined;
  }
  if (text !== undefined && path !== undefined) {
    read.report('MIC103', inputNames.environments, 'Both environments and environmentsFile are set; set one of them (or choose one with specSource).');
    return undefined;
  }
  if (text !== undefined) return { kind: 'inline', text: inputs[inputNames.environments]! };
  if (path !== undefined) return { kind: 'file', path };
  if (optional) return { kind: 'none' };
  read.report('MIC103', inputNames.environments, 'Neither environments nor environmentsFile is set; give the environments spec inline or as a file.');
  return undefined;
}

/**
 * The agent roots every filePath input, an empty one included, at the sources directory (or the default
 * working directory), so "not set" arrives as that directory. Like task-lib's filePathSupplied, a value equal
 * to either counts as not supplied.
 */
export function suppliedFilePath(value: string | undefined, facts: RawValues): string | undefined {
  if (value === undefined) return undefined;
  const roots = [facts[factNames.sourcesDirectory], facts[factNames.defaultWorkingDirectory]].filter((root): root is string => Boolean(root?.trim()));
  return roots.some((root) => samePath(root, value)) ? undefined : value;
}

function samePath(a: string, b: string): boolean {
  const normal = (path: string) => path.trim().replace(/\\/g, '/').replace(/\/+$/, '') || '/';
  return normal(a) === normal(b);
}

function readVerificationRun(read: RawReader, inputs: RawValues): VerificationRunSettings {
  return {
    queue: read.boolean(inputs, inputNames.queueVerificationRun, false),
    parameters: readRunParameters(read, inputs),
    wait: read.boolean(inputs, inputNames.waitForVerificationRun, false),
    timeoutMinutes: read.integer(inputs, inputNames.verificationRunTimeoutMinutes, inputLimits.verificationRunTimeoutMinutes),
  };
}

function readRunParameters(read: RawReader, inputs: RawValues): Record<string, string | number | boolean> {
  const text = read.optional(inputs, inputNames.verificationRunParameters);
  if (text === undefined) return { ...defaultVerificationRunParameters };
  const allowed = 'a YAML or JSON mapping of parameter names to strings, numbers or booleans, e.g. {"mode": "verify"}';
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    read.report('MIC102', inputNames.verificationRunParameters, `verificationRunParameters is not valid YAML or JSON (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); use ${allowed}.`);
    return {};
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    read.report('MIC102', inputNames.verificationRunParameters, `verificationRunParameters must be ${allowed}.`);
    return {};
  }
  const parameters: Record<string, string | number | boolean> = {};
  for (const [name, parameter] of Object.entries(value)) {
    if (typeof parameter === 'string' || typeof parameter === 'number' || typeof parameter === 'boolean') parameters[name] = parameter;
    else read.report('MIC102', inputNames.verificationRunParameters, `verificationRunParameters.${name} must be a string, number or boolean; use ${allowed}.`);
  }
  return parameters;
}

function readOnly(read: RawReader, raw: RawValues, field: string): string[] {
  const names: string[] = [];
  for (const name of (read.optional(raw, field) ?? '').split(',').map((part) => part.trim())) {
    if (name === '' || names.includes(name)) continue;
    if (!environmentNameRule.pattern.test(name)) {
      read.report('MIC102', field, `${read.label(field)} lists ${JSON.stringify(name)}, which is not an environment name: ${environmentNameRule.description}.`);
    } else names.push(name);
  }
  return names;
}

function readBootstrap(read: RawReader, facts: RawValues, id: string): BootstrapConnection {
  const scheme = read.optional(facts, factNames.bootstrapScheme);
  // Secrets anywhere defeat the purpose: the bootstrap connection must federate too.
  if (scheme !== undefined && scheme.toLowerCase() !== 'workloadidentityfederation') {
    read.report('MIC102', inputNames.bootstrapConnection, `The bootstrap connection uses the ${scheme} scheme; use an Azure Resource Manager connection with workload identity federation.`);
  }
  const subscriptionId = read.guid(facts, factNames.bootstrapSubscriptionId, { required: false });
  return {
    id,
    tenantId: read.guid(facts, factNames.bootstrapTenantId, { required: true }) ?? '',
    clientId: read.guid(facts, factNames.bootstrapClientId, { required: true }) ?? '',
    ...(subscriptionId === undefined ? {} : { subscriptionId }),
  };
}

/** The governance inputs (escalation guard, platform policy), in one place. */
function readGovernanceInputs(read: RawReader, inputs: RawValues, facts: RawValues): { identityResourceId?: string; policy?: TextSource } {
  let identityResourceId = read.optional(inputs, inputNames.bootstrapIdentityResourceId);
  if (identityResourceId !== undefined && !identityResourceIdPattern.test(identityResourceId)) {
    read.report('MIC102', inputNames.bootstrapIdentityResourceId, `bootstrapIdentityResourceId must be a user-assigned identity's resource id, /subscriptions/{guid}/resourceGroups/{name}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}; got ${JSON.stringify(identityResourceId)}.`);
    identityResourceId = undefined;
  }
  const text = read.optional(inputs, inputNames.policy);
  // policyFile is a filePath input: the agent roots an empty one at the sources directory.
  const path = suppliedFilePath(read.optional(inputs, inputNames.policyFile), facts);
  let policy: TextSource | undefined;
  if (text !== undefined && path !== undefined) read.report('MIC140', inputNames.policy, 'Both policy and policyFile are set; the platform gives its policy one way.');
  else if (text !== undefined) policy = { kind: 'inline', text: inputs[inputNames.policy]! };
  else if (path !== undefined) policy = { kind: 'file', path };
  return { ...(identityResourceId === undefined ? {} : { identityResourceId }), ...(policy === undefined ? {} : { policy }) };
}

/**
 * auditFailOn / --fail-on: comma-separated rules; the output directory (default: the agent's temp folder, or .);
 * auditScope / --scope: project (default) or organization.
 */
function readAuditSettings(read: RawReader, raw: RawValues, names: { readonly failOn: string; readonly directory: string; readonly scope: string }, defaultDirectory: string): AuditSettings {
  const { failOn: failOnName, directory: directoryName } = names;
  const failOn: AuditRule[] = [];
  for (const item of (read.optional(raw, failOnName) ?? '').split(',').map((part) => part.trim()).filter(Boolean)) {
    const rule = auditRules.find((candidate) => candidate.toLowerCase() === item.toLowerCase());
    if (!rule) read.report('MIC102', failOnName, `${read.label(failOnName)} names ${JSON.stringify(item)}; use a comma-separated list of ${auditRules.join(', ')}.`);
    else if (!failOn.includes(rule)) failOn.push(rule);
  }
  return { failOn, scope: read.choice(raw, names.scope, auditScopes, 'project'), outputDirectory: read.optional(raw, directoryName) ?? defaultDirectory };
}

const identityResourceIdPattern = /^\/subscriptions\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/resourcegroups\/[^/]+\/providers\/microsoft\.managedidentity\/userassignedidentities\/[^/]+$/i;

function readBootstrapCloud(read: RawReader, facts: RawValues): AzureCloud {
  const graphUrl = read.optional(facts, factNames.bootstrapGraphUrl) === undefined ? undefined : read.url(facts, factNames.bootstrapGraphUrl, undefined);
  return {
    armUrl: read.url(facts, factNames.bootstrapArmUrl, cloudDefaults.armUrl),
    azureEnvironment: read.optional(facts, factNames.bootstrapEnvironment) ?? cloudDefaults.azureEnvironment,
    authorityHost: read.url(facts, factNames.bootstrapAuthorityHost, cloudDefaults.authorityHost),
    armResourceId: read.optional(facts, factNames.bootstrapArmResourceId) ?? cloudDefaults.armResourceId,
    ...(graphUrl === undefined ? {} : { graphUrl }),
  };
}

function readPipeline(read: RawReader, facts: RawValues, devOpsAuth: DevOpsAuth | undefined): PipelineContext {
  const collectionUri = read.url(facts, factNames.collectionUri, undefined);
  const projectName = read.required(facts, factNames.projectName, 'MIC106');
  const projectId = read.guid(facts, factNames.projectId, { required: true });
  const definitionId = read.id(facts, factNames.definitionId, 'MIC106');
  const token = read.optional(facts, factNames.accessToken);
  if (devOpsAuth === 'systemAccessToken' && token === undefined) {
    read.report('MIC106', factNames.accessToken, 'devOpsAuth is systemAccessToken but System.AccessToken is not available to the task.');
  }
  const optionalFacts = {
    hostType: read.optional(facts, factNames.hostType),
    planId: read.optional(facts, factNames.planId),
    jobId: read.optional(facts, factNames.jobId),
    oidcRequestUri: read.optional(facts, factNames.oidcRequestUri),
    sourceBranch: read.optional(facts, factNames.sourceBranch),
    repositoryName: read.optional(facts, factNames.repositoryName),
  };
  return {
    collectionUri: collectionUri.endsWith('/') ? collectionUri : `${collectionUri}/`,
    project: { id: projectId ?? '', name: projectName ?? '' },
    ...(definitionId === undefined ? {} : { definitionId }),
    ...Object.fromEntries(Object.entries(optionalFacts).filter(([, value]) => value !== undefined)),
    ...(token === undefined ? {} : { accessToken: new Secret(token) }),
  };
}

/** The agent's proxy and certificate variables; MIC605 when they cannot be used as they are. */
function readNetwork(read: RawReader, facts: RawValues): AgentNetwork {
  const caFile = read.optional(facts, factNames.caInfo);
  const url = read.optional(facts, factNames.proxyUrl);
  if (url === undefined) return caFile === undefined ? {} : { caFile };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || parsed.username || parsed.password) {
    read.report('MIC605', factNames.proxyUrl, `The agent's proxy URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))} is not an http(s)://host:port address without credentials.`);
  }
  const bypass = readBypassList(read, read.optional(facts, factNames.proxyBypassList));
  const username = read.optional(facts, factNames.proxyUsername);
  const password = read.optional(facts, factNames.proxyPassword);
  const proxy: AgentProxy = {
    url,
    bypass,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password: new Secret(password) }),
  };
  return { proxy, ...(caFile === undefined ? {} : { caFile }) };
}

/** Agent.ProxyBypassList: a JSON array of regular expressions (the agent writes its .proxybypass lines so). */
function readBypassList(read: RawReader, text: string | undefined): string[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    read.report('MIC605', factNames.proxyBypassList, `The agent's proxy bypass list must be a JSON array of regular expressions; got ${JSON.stringify(text)}.`);
    return [];
  }
  const patterns: string[] = [];
  for (const pattern of value as string[]) {
    try {
      new RegExp(pattern, 'i');
      patterns.push(pattern);
    } catch (error) {
      read.report('MIC605', factNames.proxyBypassList, `The agent's proxy bypass entry ${JSON.stringify(pattern)} is not a regular expression (${error instanceof Error ? error.message : String(error)}).`);
    }
  }
  return patterns;
}

function optionalNumber<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}

class RawReader {
  readonly problems: Problem[] = [];

  /** label: how a value is named to the user (`concurrency` as a task input, `--concurrency` as an option). */
  constructor(
    readonly label: (name: string) => string,
    private readonly kind: 'input' | 'option' = 'input',
  ) {}

  report(code: ErrorCode, name: string, message: string): void {
    this.problems.push(problem(code, message, { field: this.label(name) }));
  }

  /** undefined for absent, empty or whitespace-only values (what task-lib gives for an unset input). */
  optional(raw: RawValues, name: string): string | undefined {
    const value = raw[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** MIC101 for a missing input or option; MIC106 for a missing agent fact. */
  required(raw: RawValues, name: string, code: 'MIC101' | 'MIC106'): string | undefined {
    const value = this.optional(raw, name);
    if (value === undefined) {
      this.report(code, name, code === 'MIC101' ? `The ${this.kind} ${this.label(name)} is required.` : `${this.label(name)} is not set; the task needs it.`);
    }
    return value;
  }

  choice<T extends string>(raw: RawValues, name: string, allowed: readonly T[], fallback: T): T {
    const value = this.optional(raw, name);
    if (value === undefined) return fallback;
    const match = allowed.find((candidate) => candidate.toLowerCase() === value.toLowerCase());
    if (match === undefined) this.report('MIC102', name, `${this.label(name)} ${JSON.stringify(value)} is not allowed; use one of ${allowed.join(', ')}.`);
    return match ?? fallback;
  }

  boolean(raw: RawValues, name: string, fallback: boolean): boolean {
    const value = this.optional(raw, name);
    if (value === undefined) return fallback;
    if (/^true$/i.test(value)) return true;
    if (/^false$/i.test(value)) return false;
    this.report('MIC102', name, `${this.label(name)} ${JSON.stringify(value)} is not allowed; use true or false.`);
    return fallback;
  }

  integer(raw: RawValues, name: string, range: { readonly min: number; readonly max: number; readonly default: number }): number {
    const value = this.optional(raw, name);
    if (value === undefined) return range.default;
    const number = /^[0-9]{1,9}$/.test(value) ? Number(value) : Number.NaN;
    if (!(number >= range.min && number <= range.max)) {
      this.report('MIC102', name, `${this.label(name)} ${JSON.stringify(value)} is not allowed; use a whole number from ${range.min} to ${range.max} (default ${range.default}).`);
      return range.default;
    }
    return number;
  }

  /** A pipeline definition id: a whole number from 1. */
  id(raw: RawValues, name: string, code: 'MIC102' | 'MIC106'): number | undefined {
    const value = this.optional(raw, name);
    if (value === undefined) return undefined;
    if (/^[1-9][0-9]{0,9}$/.test(value)) return Number(value);
    this.report(code, name, `${this.label(name)} must be a pipeline definition id (a whole number); got ${JSON.stringify(value)}.`);
    return undefined;
  }

  /** Agent facts are MIC106 when wrong; a CLI option is MIC102. */
  guid(raw: RawValues, name: string, options: { readonly required: boolean; readonly code?: 'MIC102' | 'MIC106' }): string | undefined {
    const code = options.code ?? 'MIC106';
    const value = options.required ? this.required(raw, name, code === 'MIC106' ? 'MIC106' : 'MIC101') : this.optional(raw, name);
    if (value === undefined) return undefined;
    if (!guidRule.pattern.test(value)) {
      this.report(code, name, `${this.label(name)} must be ${guidRule.description}; got ${JSON.stringify(value)}.`);
      return undefined;
    }
    return value.toLowerCase();
  }

  /** An absolute https URL (bearer tokens are only ever sent over TLS); required when there is no fallback. */
  url(raw: RawValues, name: string, fallback: string | undefined, code: 'MIC102' | 'MIC106' = 'MIC106'): string {
    const value = fallback === undefined ? this.required(raw, name, code === 'MIC106' ? 'MIC106' : 'MIC101') : this.optional(raw, name);
    if (value === undefined) return fallback ?? '';
    let parsed: URL | undefined;
    try {
      parsed = new URL(value);
    } catch {
      parsed = undefined;
    }
    if (parsed?.protocol !== 'https:') {
      this.report(code, name, `${this.label(name)} must be an absolute https URL; got ${JSON.stringify(value)}.`);
      return fallback ?? '';
    }
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Secret) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
