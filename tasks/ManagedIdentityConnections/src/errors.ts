// Typed errors with stable codes, and the catalog of every code the task can report.
//
// Code scheme (stable, public: docs/troubleshooting.md and issues refer to these):
//   MIC1xx  task inputs and the environments spec        MIC2xx  identities and federated credentials
//   MIC3xx  roles and subscriptions                       MIC4xx  Azure DevOps service connections
//   MIC5xx  verification and propagation                  MIC6xx  calls to Azure and Azure DevOps
//   MIC9xx  internal errors (bugs, or an adapter breaking its contract)
// A code is never reused for another meaning; retired codes stay in the catalog, marked as such.
// Codes marked "adapters" are raised by the SDK adapters when they translate a service error; the core
// reserves them so every failure a user can see has one documented code.

export interface CatalogEntry {
  readonly title: string;
  readonly remediation: string;
  /** Who raises it: the core itself, or the SDK adapters when they translate a service error. */
  readonly raisedBy: 'core' | 'adapters';
}

export const errorCatalog = {
  // Inputs and spec
  MIC100: { title: 'Invalid inputs or environments spec', remediation: 'Fix every problem listed; nothing was changed.', raisedBy: 'core' },
  MIC101: { title: 'Required input missing', remediation: 'Set the input (or, for the CLI, the option) named in the message.', raisedBy: 'core' },
  MIC102: { title: 'Input value not allowed', remediation: 'Use one of the values the message lists.', raisedBy: 'core' },
  MIC103: { title: 'Set exactly one of environments and environmentsFile', remediation: 'Give the spec either inline (environments) or as a file (environmentsFile), not both and not neither; or choose one with specSource and fill that one.', raisedBy: 'core' },
  MIC104: { title: 'Environments file cannot be read', remediation: 'Check the path (in a pipeline the agent roots a relative one at the sources directory; the CLI reads it from the current directory) and that the file was checked out or downloaded before this step.', raisedBy: 'core' },
  MIC105: { title: 'Unknown environment in only', remediation: 'List only environment names that the spec declares.', raisedBy: 'core' },
  MIC106: { title: 'Agent or service connection value missing or malformed', remediation: 'Run the task inside an Azure Pipelines job with an Azure Resource Manager (workload identity federation) bootstrap connection.', raisedBy: 'core' },
  MIC110: { title: 'Environments spec is not valid YAML or JSON', remediation: 'Fix the syntax at the line and column given.', raisedBy: 'core' },
  MIC111: { title: 'Unknown field in the environments spec', remediation: 'Remove the field or correct its spelling; the message lists the allowed fields.', raisedBy: 'core' },
  MIC112: { title: 'Wrong type in the environments spec', remediation: 'Give the field a value of the type the message names.', raisedBy: 'core' },
  MIC113: { title: 'Required field missing from the environments spec', remediation: 'Add the field (or the default that would supply it).', raisedBy: 'core' },
  MIC114: { title: 'Invalid name', remediation: 'Use a name that matches the rule the message gives.', raisedBy: 'core' },
  MIC115: { title: 'Invalid GUID', remediation: 'Use a GUID like 00000000-0000-0000-0000-000000000000.', raisedBy: 'core' },
  MIC116: { title: 'Duplicate environment name', remediation: 'Give every environment a unique name.', raisedBy: 'core' },
  MIC117: { title: 'Duplicate service connection name', remediation: 'Service connection names are unique per project, ignoring case: rename one of them.', raisedBy: 'core' },
  MIC118: { title: 'Malformed scope', remediation: 'Use /subscriptions/{guid}, /subscriptions/{guid}/resourceGroups/{name} or a resource id below it.', raisedBy: 'core' },
  MIC119: { title: 'Scope outside the spec\'s subscriptions', remediation: 'Role scopes must lie in a subscription the spec names (defaults, an identity or a connection); check the subscription id for typos.', raisedBy: 'core' },
  MIC120: { title: 'Invalid authorize value', remediation: 'Use current, all, none, or a list of pipeline definition ids.', raisedBy: 'core' },
  MIC121: { title: 'Unsupported spec version', remediation: 'Set version: 1 or leave version out.', raisedBy: 'core' },
  MIC122: { title: 'Duplicate entry', remediation: 'Remove the repeated entry.', raisedBy: 'core' },
  MIC123: { title: 'Invalid value', remediation: 'Use a value that matches the rule the message gives.', raisedBy: 'core' },
  MIC124: { title: 'Two connections map to the same output variable', remediation: 'Rename one connection so that their names differ in more than punctuation.', raisedBy: 'core' },
  // npm run try (the CLI's try): a rehearsal of the spec on the offline emulator
  MIC130: { title: 'No emulator world for the rehearsal', remediation: 'The --from-seed file must be a seed document (docs/emulator.md, "The seed") with a bootstrap connection and job; a world derived from a spec is refused only by an emulator bug: report it.', raisedBy: 'core' },
  MIC131: { title: 'The rehearsal\'s rerun wrote', remediation: 'The second provision of an unchanged spec must write nothing; this is a bug in the task: report it with the rehearsal\'s output.', raisedBy: 'core' },
  MIC132: { title: 'The bundled task is missing', remediation: 'The rehearsal runs the task as shipped, from dist/: run npm run build (npm run try does) and try again.', raisedBy: 'core' },
  // Platform policy (docs/governance.md)
  MIC140: { title: 'Platform policy cannot be read', remediation: 'Set one of policy and policyFile, and check that the file exists on the agent (the template passes it; docs/governance.md).', raisedBy: 'core' },
  MIC141: { title: 'Platform policy is not valid', remediation: 'Fix the policy at the field and line given; policy.v1.schema.json describes it.', raisedBy: 'core' },
  MIC142: { title: 'No platform policy rule for this project or repository', remediation: 'Ask the platform team to add a rule whose match fits this project and repository.', raisedBy: 'core' },
  MIC143: { title: 'Subscription not allowed by the platform policy', remediation: 'Use a subscription the policy rule lists, or ask the platform team.', raisedBy: 'core' },
  MIC144: { title: 'Resource group not allowed by the platform policy', remediation: 'Use a resource group matching the rule\'s patterns; roles on a whole subscription are refused when the rule lists resource groups.', raisedBy: 'core' },
  MIC145: { title: 'Role not allowed by the platform policy', remediation: 'Use a role the policy rule lists, or ask the platform team.', raisedBy: 'core' },
  MIC146: { title: 'Name does not follow the platform policy', remediation: 'Rename the identity or connection to match the rule\'s pattern.', raisedBy: 'core' },
  MIC147: { title: 'Too many environments or connections for the platform policy', remediation: 'Split the spec, or ask the platform team to raise the limit.', raisedBy: 'core' },
  MIC148: { title: 'Feature not allowed by the platform policy', remediation: 'Sharing, authorize: all and privileged roles are off unless the policy rule allows them: remove them from the spec or inputs.', raisedBy: 'core' },
  MIC150: { title: 'teardown needs only', remediation: 'Name the environments to tear down in only (comma-separated); teardown never acts on the whole spec at once.', raisedBy: 'core' },
  // Identities and federated credentials
  MIC201: { title: 'Too many connections for one identity', remediation: 'An identity holds at most 20 federated credentials, one per connection: split the environment.', raisedBy: 'core' },
  MIC202: { title: 'Federated credential limit reached', remediation: 'The identity already has federated credentials this task does not manage; remove unused ones or use another identity.', raisedBy: 'core' },
  MIC203: { title: 'Identity used by two environments', remediation: 'Give each environment its own identity (name, resource group or subscription).', raisedBy: 'core' },
  MIC204: { title: 'Identity exists in another location', remediation: 'An identity cannot move: set the location it has, or choose another identity name.', raisedBy: 'core' },
  MIC205: { title: 'Identity resource group not found', remediation: 'Create the resource group first; this task does not create resource groups.', raisedBy: 'adapters' },
  MIC206: { title: 'Concurrent federated credential writes kept failing', remediation: 'Another process is writing federated credentials on the same identity; run again when it has finished.', raisedBy: 'adapters' },
  MIC207: { title: 'Federated credential rejected', remediation: 'Check the message; an identical issuer and subject may exist under another name on the identity.', raisedBy: 'adapters' },
  MIC208: { title: 'Connection subscription is in another tenant than the identity', remediation: 'A managed identity works only in its own tenant: target a subscription of that tenant.', raisedBy: 'core' },
  MIC209: { title: 'Federated credentials not supported for this identity', remediation: 'Some regions do not support federated credentials on managed identities: use another location.', raisedBy: 'adapters' },
  MIC210: { title: 'New identity not visible to federated credentials in time (ParentResourceNotFound)', remediation: 'Azure had not yet made the new identity visible to its federated credentials within propagationTimeoutSeconds: run again, or raise the timeout.', raisedBy: 'adapters' },
  // Roles and subscriptions
  MIC301: { title: 'Privileged role refused', remediation: 'Owner, User Access Administrator and Role Based Access Control Administrator need allowPrivilegedRoles: true. Prefer a narrower role.', raisedBy: 'core' },
  MIC302: { title: 'Role can change authorization', remediation: 'The role can write Microsoft.Authorization (role assignments, definitions, policy or locks): use a narrower role or set allowPrivilegedRoles.', raisedBy: 'core' },
  MIC303: { title: 'Unknown role', remediation: 'Check the role name (exact, e.g. "Storage Blob Data Contributor") or use its role definition GUID.', raisedBy: 'core' },
  MIC304: { title: 'Not authorized', remediation: 'Grant the bootstrap identity the permission named in the message on the scope named (see docs/permissions.md).', raisedBy: 'adapters' },
  MIC305: { title: 'Identity principal not found in time', remediation: 'Entra replication took longer than propagationTimeoutSeconds: run again or raise the timeout.', raisedBy: 'adapters' },
  MIC306: { title: 'Role assignment name conflict', remediation: 'An assignment with the same name exists for another principal or scope; report it, this should not happen with derived names.', raisedBy: 'adapters' },
  MIC307: { title: 'Subscription not found', remediation: 'Check the subscription id and that the bootstrap identity can read it.', raisedBy: 'core' },
  MIC310: { title: 'Role could take over an identity', remediation: 'The role can write federated credentials or identities on a scope holding the bootstrap identity, an identity of the spec or an identity resource group: grant it on a scope without identities (docs/permissions.md, safe layout), or set allowPrivilegedRoles.', raisedBy: 'core' },
  MIC311: { title: 'Bootstrap identity not located', remediation: 'The escalation guard could not tell whether a role covers the bootstrap identity: set the bootstrapIdentityResourceId input, or let the bootstrap identity read identities in the subscriptions the spec names.', raisedBy: 'core' },
  MIC312: { title: 'Environments share an identity resource group under an identity-writing grant', remediation: 'One environment can sign in as the others: give each environment its own identity resource group, or drop the grant.', raisedBy: 'core' },
  MIC313: { title: 'Identity takeover allowed by allowPrivilegedRoles', remediation: 'The grant lets a connection sign in as the identities named; narrow its scope unless this is intended.', raisedBy: 'core' },
  MIC320: { title: 'Privileged role of a service principal not copied', remediation: 'The connection\'s service principal holds a role that can change authorization (Owner, User Access Administrator, …): convert only with allowPrivilegedRoles: true, or narrow the service principal\'s roles first (docs/lifecycle.md, "Convert").', raisedBy: 'core' },
  // Azure DevOps
  MIC401: { title: 'A connection with this name is not ours to manage', remediation: 'A connection of that name exists but is not an Azure Resource Manager, workload identity federation, manual, subscription-level connection: rename one of them.', raisedBy: 'core' },
  MIC402: { title: 'Service connection disabled', remediation: 'Azure DevOps disables connections unused for 100 days; re-enable it in Project settings > Service connections.', raisedBy: 'core' },
  MIC403: { title: 'Service connection not ready', remediation: 'Open the connection in Project settings > Service connections and check its status message.', raisedBy: 'core' },
  MIC404: { title: 'Missing Creator role on service connections', remediation: 'Add the build service identity (or the bootstrap identity) to the project\'s Endpoint Creators group.', raisedBy: 'adapters' },
  MIC405: { title: 'Missing Administrator role on the service connection', remediation: 'Make the identity running the task an Administrator of the connection (Security on the connection).', raisedBy: 'adapters' },
  MIC406: { title: 'Project not found', remediation: 'Check the project name in shareWith and that the identity running the task can see it.', raisedBy: 'core' },
  MIC407: { title: 'Connection has no issuer or subject', remediation: 'The connection returned no workload identity federation issuer/subject; open it in Azure DevOps, or report it if the task just created it.', raisedBy: 'core' },
  MIC408: { title: 'Azure DevOps authentication failed', remediation: 'With devOpsAuth: bootstrapIdentity, add the bootstrap identity to the organization; with systemAccessToken, check the job authorization scope.', raisedBy: 'adapters' },
  MIC409: { title: 'No pipeline to authorize', remediation: 'authorize: current needs a pipeline run; outside one, list pipeline ids or use all or none.', raisedBy: 'core' },
  MIC410: { title: 'Verification run could not be queued', remediation: 'The identity calling Azure DevOps needs "Queue builds" on this pipeline; the pipeline must declare every parameter in verificationRunParameters and may use every connection it names.', raisedBy: 'adapters' },
  MIC411: { title: 'No pipeline to queue a verification run of', remediation: 'queueVerificationRun queues the pipeline running the task again (System.DefinitionId): use it in a YAML pipeline run, or turn it off.', raisedBy: 'core' },
  MIC412: { title: 'Unknown pipeline in authorize', remediation: 'List pipeline (definition) ids of the project the task runs in or of a shareWith project of the connection; the id is in the pipeline\'s address (definitionId=…).', raisedBy: 'core' },
  MIC413: { title: 'Connection deleted in this project but still shared with another', remediation: 'Delete the connection in the other project too (the next run creates and shares it anew), or share that copy back with this project (the next run adopts it).', raisedBy: 'core' },
  MIC414: { title: 'A shareWith project has another connection of that name', remediation: 'Connection names are unique per project: rename one of the two, or remove the project from shareWith.', raisedBy: 'core' },
  MIC420: { title: 'A connection of this name appeared for another identity while the task ran', remediation: 'Something else (another run, a person) created a service connection with this name for another identity or tenant: rename one of them, or delete the other and run again.', raisedBy: 'adapters' },
  MIC421: { title: 'Connection uses the Azure DevOps (legacy) issuer', remediation: 'The Azure DevOps issuer retires on 2027-07-01: run the task with command: migrate-issuer (it adds the Entra credential first, switches the connection, verifies it, then removes the legacy credential), or use the connection\'s Update button in the portal and run provision.', raisedBy: 'core' },
  MIC422: { title: 'Only the Reader role on a service connection', remediation: 'Azure DevOps shows a Reader only a stub of the connection: make the identity running the task an Administrator of the connection (Project settings > Service connections > the connection > Security).', raisedBy: 'core' },
  MIC430: { title: 'Check configuration refused', remediation: 'Azure DevOps refused a check on the connection: check the approver ids (users or groups of the organization), the template repository, the time zone (a Windows time zone id) and the message.', raisedBy: 'adapters' },
  MIC431: { title: 'Invalid check on a connection', remediation: 'Fix the value named (approvers and minApprovers, timeoutMinutes, the template\'s ref and path, business days and hours); docs/environments-spec.md lists what is allowed.', raisedBy: 'core' },
  MIC432: { title: 'Audit rule matched', remediation: 'The connections named match an auditFailOn rule: migrate them (secret → workload identity federation, legacy issuer → Entra ID issuer, app registration → managed identity), bring them under the spec, or drop the rule.', raisedBy: 'core' },
  MIC433: { title: 'Audit files cannot be written', remediation: 'Check auditOutputDirectory (or --output-directory): it must be a writable folder on the agent.', raisedBy: 'core' },
  MIC445: { title: 'Azure DevOps kept the connection on the legacy issuer', remediation: 'The organization did not honour the request for the Entra issuer: nothing was lost (the connection still signs in with its legacy credential). Use the connection\'s Update button in the portal, then run migrate-issuer again to remove the legacy credential.', raisedBy: 'core' },
  MIC446: { title: 'Connection left out of the issuer migration', remediation: 'The task migrates connections that sign in as a user-assigned managed identity it can read, with an issuer of the documented form: migrate the others with the Update button in the portal (Project settings > Service connections).', raisedBy: 'core' },
  // Secret → workload identity conversion (docs/lifecycle.md, "Convert")
  MIC440: { title: 'Invalid convert input', remediation: 'Fix the input named: convertConnections lists connection names (comma-separated) or *, convertIdentityResourceGroup is /subscriptions/{guid}/resourceGroups/{name}, convertIdentityLocation an Azure location.', raisedBy: 'core' },
  MIC441: { title: 'Connection cannot be converted', remediation: 'convert acts only on Azure Resource Manager connections of this project that sign in with a service principal secret (scheme ServicePrincipal), are not shared with other projects, and that the identity running the task administers; the message says which rule failed. Nothing was changed for it.', raisedBy: 'core' },
  MIC442: { title: 'Service principal of a connection cannot be resolved', remediation: 'Role parity needs the service principal\'s object id, read from Microsoft Graph: grant the bootstrap identity Application.Read.All (or Directory.Read.All), or check that the app registration still exists in the tenant. Nothing was changed for the connection.', raisedBy: 'core' },
  MIC443: { title: 'Azure DevOps refused the conversion', remediation: 'Azure DevOps refused ConvertAuthenticationScheme for the connection (documented only for connections it created, creationMode Automatic); the connection still uses its secret. Convert it in the web UI, or recreate it with provision.', raisedBy: 'adapters' },
  MIC444: { title: 'Converted connection failed verification: rolled back', remediation: 'The connection did not sign in as its new managed identity; the task switched it back to its service principal secret. Read the TestConnection message, fix the cause (role, credential), and run convert again. If the message says the roll-back failed, revert the connection in the web UI within 7 days.', raisedBy: 'core' },
  // Verification and propagation
  MIC501: { title: 'Connection verification failed', remediation: 'Read the message from Azure DevOps; check the federated credential and that the identity has a role in the connection\'s subscription.', raisedBy: 'core' },
  MIC502: { title: 'Drift detected', remediation: 'Run the task with command: provision, or bring the spec in line with what exists.', raisedBy: 'core' },
  MIC503: { title: 'Federated credential not found by Entra in time (AADSTS70021)', remediation: 'Replication took longer than propagationTimeoutSeconds: run again, or raise the timeout.', raisedBy: 'core' },
  MIC504: { title: 'Issuer mismatch (AADSTS700211)', remediation: 'The connection\'s issuer changed; run provision to update the federated credential in place.', raisedBy: 'core' },
  MIC505: { title: 'Subject mismatch (AADSTS700213 / AADSTS7002138)', remediation: 'The subject must match exactly, including case; run provision to rewrite the federated credential.', raisedBy: 'core' },
  MIC506: { title: 'Assertion expired (AADSTS700024)', remediation: 'The job\'s ID token expired before it was exchanged; run again (the task fetches a fresh token per attempt).', raisedBy: 'core' },
  MIC507: { title: 'No role in the connection\'s subscription', remediation: 'Verification reads the subscription with the identity: grant it a role there (e.g. Reader) or expect the test to fail.', raisedBy: 'core' },
  MIC508: { title: 'Verification run failed', remediation: 'Open the queued run (verificationRunUrl) and read its failing step.', raisedBy: 'core' },
  MIC509: { title: 'Verification run did not finish in time', remediation: 'Raise verificationRunTimeoutMinutes, or stop waiting (waitForVerificationRun: false) and check the run later.', raisedBy: 'core' },
  MIC530: { title: 'Owned objects not in the spec', remediation: 'They were created by this task but the spec no longer names them: run provision with prune: true to remove them (the plan lists each), or add them back to the spec.', raisedBy: 'core' },
  MIC531: { title: 'Too many deletions', remediation: 'The plan deletes or narrows more objects than maxDeletions: review the plan, then raise maxDeletions for this run, or act on fewer environments at a time (only).', raisedBy: 'core' },
  MIC532: { title: 'Connection used recently: kept', remediation: 'A job used the connection within keepConnectionsUsedWithinDays: wait, or set deleteUsedConnections: true to delete it anyway.', raisedBy: 'core' },
  MIC533: { title: 'Not owned, left alone', remediation: 'The object does not carry this task\'s ownership marker (docs/lifecycle.md): the task never deletes it. Delete it by hand if it must go.', raisedBy: 'core' },
  // Service calls
  MIC601: { title: 'Throttled after retries', remediation: 'Azure or Azure DevOps kept answering 429: lower concurrency or run again later.', raisedBy: 'adapters' },
  MIC602: { title: 'Network error', remediation: 'Check the agent\'s connectivity and proxy settings to Azure and Azure DevOps.', raisedBy: 'adapters' },
  MIC603: { title: 'Bootstrap connection cannot sign in', remediation: 'Check the bootstrap service connection: its federated credential, and that this pipeline may use it.', raisedBy: 'adapters' },
  MIC604: { title: 'Unexpected answer from a service', remediation: 'Read the status and correlation id in the message; run again with system.debug: true for details.', raisedBy: 'adapters' },
  MIC605: { title: 'The agent\'s proxy or certificate settings cannot be used', remediation: 'Fix the agent\'s proxy configuration (config.sh --proxyurl, .proxy, .proxybypass) or its --sslcacert file, named in the message.', raisedBy: 'core' },
  MIC606: { title: 'Cancelled', remediation: 'The task was stopped (the job was cancelled or timed out) or had already ended; calls still in flight were abandoned. Run again.', raisedBy: 'adapters' },
  // Internal
  MIC901: { title: 'Internal error', remediation: 'This is a bug: report it with the log (system.debug: true).', raisedBy: 'core' },
  MIC902: { title: 'An adapter broke its contract', remediation: 'This is a bug in an adapter: report it with the log (system.debug: true).', raisedBy: 'core' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof errorCatalog;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(errorCatalog, value);
}

/** Where in the spec (or which input) a problem is, as far as it is known. */
export interface ProblemLocation {
  /** A task input name (`concurrency`) or a spec field path (`environments[1].connections[0].subscriptionId`). */
  readonly field?: string;
  /** 1-based, when the spec was YAML/JSON text. */
  readonly line?: number;
  readonly column?: number;
  readonly environment?: string;
}

/** One problem as plain data: what spec validation and the planner produce, and what a TaskError carries. */
export interface Problem extends ProblemLocation {
  readonly code: ErrorCode;
  readonly message: string;
  readonly remediation: string;
}

export interface TaskErrorOptions extends ProblemLocation {
  readonly cause?: unknown;
  readonly remediation?: string;
  /** For an aggregate error (MIC100): every problem found, so that all of them are reported at once. */
  readonly problems?: readonly Problem[];
}

export class TaskError extends Error implements Problem {
  override readonly name = 'TaskError';
  readonly code: ErrorCode;
  readonly remediation: string;
  readonly field?: string;
  readonly line?: number;
  readonly column?: number;
  readonly environment?: string;
  readonly problems: readonly Problem[];

  constructor(code: ErrorCode, message: string, options: TaskErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.remediation = options.remediation ?? errorCatalog[code].remediation;
    if (options.field !== undefined) this.field = options.field;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
    if (options.environment !== undefined) this.environment = options.environment;
    this.problems = options.problems ?? [];
  }

  static fromProblem(problem: Problem): TaskError {
    return new TaskError(problem.code, problem.message, problem);
  }

  /** One error for many problems; a single problem is returned as itself so its code stays visible. */
  static aggregate(problems: readonly Problem[], summary: string): TaskError {
    const [only] = problems;
    if (problems.length === 1 && only !== undefined) return TaskError.fromProblem(only);
    return new TaskError('MIC100', summary, { problems });
  }
}

// A brand check rather than instanceof alone: the bundled task and a CLI may load two copies of this module.
export function isTaskError(value: unknown): value is TaskError {
  return value instanceof TaskError || (value instanceof Error && value.name === 'TaskError' && isErrorCode(String((value as { code?: unknown }).code)));
}

export function problem(code: ErrorCode, message: string, location: ProblemLocation = {}): Problem {
  return { code, message, remediation: errorCatalog[code].remediation, ...withoutUndefined(location) };
}

/** Wraps anything thrown into a TaskError; errors that are already typed pass through. */
export function toTaskError(value: unknown, fallback: ErrorCode = 'MIC901'): TaskError {
  if (isTaskError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new TaskError(fallback, message, { cause: value });
}

/**
 * The Entra error codes an Azure DevOps TestConnection message can carry, mapped to our codes, most
 * specific first (AADSTS7002138 starts with AADSTS700213, which starts with AADSTS70021).
 */
const verificationCodes: readonly (readonly [RegExp, ErrorCode])[] = [
  [/AADSTS7002138\b/, 'MIC505'],
  [/AADSTS700213\b/, 'MIC505'],
  [/AADSTS700211\b/, 'MIC504'],
  [/AADSTS700024\b/, 'MIC506'],
  [/AADSTS70021\b/, 'MIC503'],
  [/AADSTS70025\b/, 'MIC503'],
];

/**
 * The code of a failed TestConnection. A credential the task did not write in this run cannot be propagating:
 * "no record" (AADSTS70021, 70025) is then drift (MIC502), reported at once.
 */
export function classifyTestFailure(message: string, credentialWrittenThisRun: boolean): ErrorCode {
  const code = classifyVerificationFailure(message);
  return code === 'MIC503' && !credentialWrittenThisRun ? 'MIC502' : code;
}

export function classifyVerificationFailure(message: string): ErrorCode {
  for (const [pattern, code] of verificationCodes) if (pattern.test(message)) return code;
  return 'MIC501';
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The error, naming the environment it happened in (unless it already names one). */
export function withEnvironment(error: Problem, environment: string): TaskError {
  const typed = isTaskError(error) ? error : TaskError.fromProblem(error);
  if (typed.environment !== undefined) return typed;
  return new TaskError(typed.code, typed.message, { ...typed, environment, cause: typed.cause });
}
