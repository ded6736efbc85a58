// Validates an environments spec (version 1) and resolves its defaults, reporting every problem at once with a
// stable code, the field path, the line and column when the spec was text, and what is allowed.
//
// Hand-written rather than driven by the JSON Schema (environments.v1.schema.json): the messages name fields
// in our words and suggest spellings, the cross-field rules (duplicates, defaults, budgets, scopes) are not
// expressible in JSON Schema anyway, and the bundled task stays free of a schema compiler. A test holds the
// schema and this validator to the same verdicts on a corpus of specs (tests/unit/spec-schema.test.ts).
import { problem, type ErrorCode, type Problem } from '../errors';
import { federatedCredentialLimit, wellKnownPrivilegedRole } from '../core/guardrails';
import type { Authorize, DesiredConnection, DesiredEnvironment, DesiredRole, SpecOrigin } from '../core/model';
import {
  connectionNameRule,
  defaultIdentityNamePrefix,
  environmentNameRule,
  guidRule,
  identityKey,
  identityNameRule,
  locationRule,
  namePrefixRule,
  projectNameRule,
  resourceGroupNameRule,
  variableNamePart,
  type NameRule,
} from '../core/names';
import { defaultCheckTimeoutMinutes, normalizeCheck, weekDays } from '../core/checks';
import { ownershipMarker } from '../core/ownership';
import { normalizeScope, parseScope, scopeDescription } from '../core/scopes';
import type { CheckSpec } from '../ports/devops';
import { closestMatch } from './did-you-mean';
import { formatPath, type FieldPath, type SourcePosition, type SpecDocument } from './spec-source';

export interface SpecValidationOptions {
  readonly allowPrivilegedRoles: boolean;
}

export type SpecValidationResult =
  | { readonly ok: true; readonly environments: readonly DesiredEnvironment[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

export const specFields = {
  root: ['$schema', 'version', 'defaults', 'environments'],
  defaults: ['subscriptionId', 'identityResourceGroup', 'location', 'namePrefix', 'tags'],
  environment: ['name', 'identity', 'connections', 'roles'],
  identity: ['name', 'resourceGroup', 'subscriptionId', 'location', 'tags'],
  connection: ['name', 'subscriptionId', 'resourceGroup', 'description', 'shareWith', 'authorize', 'checks'],
  checks: ['approvals', 'exclusiveLock', 'requiredTemplate', 'businessHours'],
  approvals: ['approvers', 'minApprovers', 'timeoutMinutes', 'instructions'],
  exclusiveLock: ['timeoutMinutes'],
  requiredTemplate: ['repository', 'repositoryType', 'ref', 'path', 'timeoutMinutes'],
  businessHours: ['timeZone', 'days', 'start', 'end', 'timeoutMinutes'],
  role: ['role', 'scope'],
} as const;

export const authorizeKeywords = ['current', 'all', 'none'] as const;

const limits = { description: 1024, roleName: 512, tagName: 512, tagValue: 256, tags: 50 };

export function validateSpec(document: SpecDocument, options: SpecValidationOptions): SpecValidationResult {
  const check = new SpecCheck(document);
  const root = check.object(document.value, [], specFields.root);
  if (root === undefined) return { ok: false, problems: check.problems };

  if (root['$schema'] !== undefined) check.string(root, '$schema', [], { required: false });
  if (root['version'] !== undefined && root['version'] !== 1) {
    check.report('MIC121', ['version'], `version ${JSON.stringify(root['version'])} is not supported; this task reads version 1 (or no version).`);
  }
  const defaults = readDefaults(check, root);
  const environments = readEnvironments(check, root, defaults);
  checkAcrossEnvironments(check, environments, defaults, options);
  if (check.problems.length > 0) return { ok: false, problems: check.problems };
  return { ok: true, environments: environments.map((environment) => toDesired(check, environment, defaults)) };
}

// ——— Reading (shape, types, single-field rules) ———

interface Defaults {
  /** Fields that were written, valid or not: an invalid default is reported once, not again as missing. */
  readonly present: ReadonlySet<string>;
  readonly subscriptionId?: string;
  readonly identityResourceGroup?: string;
  readonly location?: string;
  readonly namePrefix?: string;
  readonly tags: Readonly<Record<string, string>>;
}

interface ReadIdentity {
  readonly path: FieldPath;
  /** Fields that were written, valid or not. */
  readonly present: ReadonlySet<string>;
  readonly name?: string;
  readonly resourceGroup?: string;
  readonly subscriptionId?: string;
  readonly location?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly given: boolean;
}

interface ReadConnection {
  readonly path: FieldPath;
  readonly name?: string;
  readonly subscriptionId?: string;
  readonly resourceGroup?: string;
  readonly description?: string;
  readonly shareWith: readonly string[];
  readonly authorize: Authorize;
  readonly checks?: readonly CheckSpec[];
}

interface ReadRole {
  readonly path: FieldPath;
  readonly role?: string;
  readonly scope?: string;
}

interface ReadEnvironment {
  readonly path: FieldPath;
  readonly name?: string;
  readonly identity: ReadIdentity;
  readonly connections: readonly ReadConnection[];
  readonly roles: readonly ReadRole[];
}

function readDefaults(check: SpecCheck, root: Record<string, unknown>): Defaults {
  const none: Defaults = { present: new Set(), tags: {} };
  if (root['defaults'] === undefined) return none;
  const path = ['defaults'];
  const defaults = check.object(root['defaults'], path, specFields.defaults);
  if (defaults === undefined) return none;
  return {
    present: presentFields(defaults),
    ...optional('subscriptionId', check.guid(defaults, 'subscriptionId', path)),
    ...optional('identityResourceGroup', check.named(defaults, 'identityResourceGroup', path, resourceGroupNameRule, 'resource group name')),
    ...optional('location', check.named(defaults, 'location', path, locationRule, 'location')),
    ...optional('namePrefix', check.named(defaults, 'namePrefix', path, namePrefixRule, 'name prefix')),
    tags: check.tags(defaults, path),
  };
}

function readEnvironments(check: SpecCheck, root: Record<string, unknown>, defaults: Defaults): ReadEnvironment[] {
  const path = ['environments'];
  const items = check.array(root, 'environments', [], { required: true, minItems: 1, what: 'environment' });
  return items.map((item, index) => readEnvironment(check, item, [...path, index], defaults));
}

function readEnvironment(check: SpecCheck, value: unknown, path: FieldPath, defaults: Defaults): ReadEnvironment {
  const environment = check.object(value, path, specFields.environment);
  if (environment === undefined) return { path, identity: { path: [...path, 'identity'], present: new Set(specFields.identity), tags: {}, given: false }, connections: [], roles: [] };
  const name = check.named(environment, 'name', path, environmentNameRule, 'environment name', { required: true });
  const identity = readIdentity(check, environment, [...path, 'identity']);
  const connections = check
    .array(environment, 'connections', path, { required: true, minItems: 1, what: 'connection' })
    .map((item, index) => readConnection(check, item, [...path, 'connections', index], defaults));
  const roles = check.array(environment, 'roles', path, { required: false, minItems: 0, what: 'role' }).map((item, index) => readRole(check, item, [...path, 'roles', index]));
  return { path, ...optional('name', name), identity, connections, roles };
}

function readIdentity(check: SpecCheck, environment: Record<string, unknown>, path: FieldPath): ReadIdentity {
  if (environment['identity'] === undefined) return { path, present: new Set(), tags: {}, given: false };
  const identity = check.object(environment['identity'], path, specFields.identity);
  if (identity === undefined) return { path, present: new Set(specFields.identity), tags: {}, given: true };
  return {
    path,
    present: presentFields(identity),
    given: true,
    ...optional('name', check.named(identity, 'name', path, identityNameRule, 'identity name')),
    ...optional('resourceGroup', check.named(identity, 'resourceGroup', path, resourceGroupNameRule, 'resource group name')),
    ...optional('subscriptionId', check.guid(identity, 'subscriptionId', path)),
    ...optional('location', check.named(identity, 'location', path, locationRule, 'location')),
    tags: check.tags(identity, path),
  };
}

function readConnection(check: SpecCheck, value: unknown, path: FieldPath, defaults: Defaults): ReadConnection {
  const connection = check.object(value, path, specFields.connection);
  if (connection === undefined) return { path, shareWith: [], authorize: { kind: 'current' } };
  const subscriptionId = check.guid(connection, 'subscriptionId', path);
  if (connection['subscriptionId'] === undefined && defaults.subscriptionId === undefined && !defaults.present.has('subscriptionId')) {
    check.report('MIC113', [...path, 'subscriptionId'], `${formatPath(path)} needs a subscriptionId (or set defaults.subscriptionId).`);
  }
  const description = check.string(connection, 'description', path, { required: false, maxLength: limits.description });
  return {
    path,
    ...optional('name', check.named(connection, 'name', path, connectionNameRule, 'connection name', { required: true })),
    ...optional('subscriptionId', subscriptionId ?? (connection['subscriptionId'] === undefined ? defaults.subscriptionId : undefined)),
    ...optional('resourceGroup', check.named(connection, 'resourceGroup', path, resourceGroupNameRule, 'resource group name')),
    ...optional('description', description),
    shareWith: readShareWith(check, connection, path),
    authorize: readAuthorize(check, connection, path),
    ...optional('checks', readChecks(check, connection, path)),
  };
}

/** `checks` of a connection: each kind at most once, normalized (core/checks.ts). */
function readChecks(check: SpecCheck, connection: Record<string, unknown>, path: FieldPath): CheckSpec[] | undefined {
  if (connection['checks'] === undefined) return undefined;
  const checksPath = [...path, 'checks'];
  const raw = check.object(connection['checks'], checksPath, specFields.checks);
  if (!raw) return undefined;
  const found: CheckSpec[] = [];
  const timeout = (value: Record<string, unknown>, at: FieldPath): number => {
    const minutes = value['timeoutMinutes'];
    if (minutes === undefined) return defaultCheckTimeoutMinutes;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > defaultCheckTimeoutMinutes) {
      check.report('MIC431', [...at, 'timeoutMinutes'], `timeoutMinutes must be a whole number from 1 to ${defaultCheckTimeoutMinutes} (30 days, the default); got ${JSON.stringify(minutes)}.`);
    }
    return typeof minutes === 'number' ? minutes : defaultCheckTimeoutMinutes;
  };
  if (raw['approvals'] !== undefined) {
    const at = [...checksPath, 'approvals'];
    const value = check.object(raw['approvals'], at, specFields.approvals);
    if (value) {
      const approvers: string[] = [];
      check.array(value, 'approvers', at, { required: true, minItems: 1, what: 'approver id (an Azure DevOps user or group id)' }).forEach((item, index) => {
        if (typeof item !== 'string' || !guidRule.pattern.test(item)) check.report('MIC115', [...at, 'approvers', index], `${formatPath([...at, 'approvers', index])} must be the id (a GUID) of an Azure DevOps user or group; got ${JSON.stringify(item)}.`);
        else approvers.push(item);
      });
      const min = value['minApprovers'] ?? 0;
      if (typeof min !== 'number' || !Number.isInteger(min) || min < 0 || min > approvers.length) {
        check.report('MIC431', [...at, 'minApprovers'], `minApprovers must be a whole number from 0 (every approver) to the number of approvers (${approvers.length}); got ${JSON.stringify(min)}.`);
      }
      const instructions = check.string(value, 'instructions', at, { required: false, maxLength: limits.description }) ?? '';
      found.push({ kind: 'approval', timeoutMinutes: timeout(value, at), approvers, minApprovers: typeof min === 'number' ? min : 0, instructions });
    }
  }
  if (raw['exclusiveLock'] !== undefined) {
    const at = [...checksPath, 'exclusiveLock'];
    const value = raw['exclusiveLock'];
    if (value === true) found.push({ kind: 'exclusiveLock', timeoutMinutes: defaultCheckTimeoutMinutes });
    else if (value !== false) {
      const options = check.object(value, at, specFields.exclusiveLock);
      if (options) found.push({ kind: 'exclusiveLock', timeoutMinutes: timeout(options, at) });
    }
  }
  if (raw['requiredTemplate'] !== undefined) {
    const at = [...checksPath, 'requiredTemplate'];
    const value = check.object(raw['requiredTemplate'], at, specFields.requiredTemplate);
    if (value) {
      const repository = check.string(value, 'repository', at, { required: true, maxLength: 400 });
      const repositoryType = check.string(value, 'repositoryType', at, { required: false }) ?? 'git';
      if (!['git', 'github', 'bitbucket'].includes(repositoryType.toLowerCase())) check.report('MIC431', [...at, 'repositoryType'], `repositoryType must be git (Azure Repos), github or bitbucket; got ${JSON.stringify(repositoryType)}.`);
      const ref = check.string(value, 'ref', at, { required: true, maxLength: 400 });
      if (ref !== undefined && !ref.startsWith('refs/')) check.report('MIC431', [...at, 'ref'], `ref must be a full ref such as refs/heads/main or refs/tags/v1.0.0; got ${JSON.stringify(ref)}.`);
      const templatePath = check.string(value, 'path', at, { required: true, maxLength: 400 });
      if (templatePath !== undefined && !/\.ya?ml$/i.test(templatePath)) check.report('MIC431', [...at, 'path'], `path must name a YAML template file (.yml or .yaml); got ${JSON.stringify(templatePath)}.`);
      if (repository !== undefined && ref !== undefined && templatePath !== undefined) {
        found.push({ kind: 'requiredTemplate', timeoutMinutes: timeout(value, at), templates: [{ repositoryType, repository, ref, path: templatePath }] });
      }
    }
  }
  if (raw['businessHours'] !== undefined) {
    const at = [...checksPath, 'businessHours'];
    const value = check.object(raw['businessHours'], at, specFields.businessHours);
    if (value) {
      const timeZone = check.string(value, 'timeZone', at, { required: true, maxLength: 100 });
      const days: string[] = [];
      check.array(value, 'days', at, { required: true, minItems: 1, what: 'weekday' }).forEach((item, index) => {
        const day = typeof item === 'string' ? weekDays.find((candidate) => candidate.toLowerCase() === item.toLowerCase()) : undefined;
        if (!day) check.report('MIC431', [...at, 'days', index], `${JSON.stringify(item)} is not a weekday; use ${weekDays.join(', ')}.`);
        else days.push(day);
      });
      const time = (key: 'start' | 'end'): string | undefined => {
        const text = check.string(value, key, at, { required: true });
        if (text === undefined || /^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(text)) return text;
        check.report('MIC431', [...at, key], `${key} must be a time of day as HH:MM (24 hours); got ${JSON.stringify(text)}.`);
        return undefined;
      };
      const start = time('start');
      const end = time('end');
      if (start !== undefined && end !== undefined && start >= end) check.report('MIC431', [...at, 'end'], `end (${end}) must be later than start (${start}).`);
      if (timeZone !== undefined && start !== undefined && end !== undefined) found.push({ kind: 'businessHours', timeoutMinutes: timeout(value, at), timeZone, days, start, end });
    }
  }
  return found.map(normalizeCheck);
}

function readShareWith(check: SpecCheck, connection: Record<string, unknown>, path: FieldPath): string[] {
  const projects: string[] = [];
  const seen = new Set<string>();
  check.array(connection, 'shareWith', path, { required: false, minItems: 0, what: 'project name' }).forEach((item, index) => {
    const itemPath = [...path, 'shareWith', index];
    if (typeof item !== 'string') return check.report('MIC112', itemPath, `${formatPath(itemPath)} must be a project name (a string), not ${describeType(item)}.`);
    if (!projectNameRule.pattern.test(item)) return check.report('MIC114', itemPath, `${JSON.stringify(item)} is not a valid project name: ${projectNameRule.description}.`);
    if (seen.has(item.toLowerCase())) return check.report('MIC122', itemPath, `Project ${JSON.stringify(item)} is listed twice in ${formatPath([...path, 'shareWith'])}.`);
    seen.add(item.toLowerCase());
    projects.push(item);
  });
  return projects;
}

function readAuthorize(check: SpecCheck, connection: Record<string, unknown>, path: FieldPath): Authorize {
  const value = connection['authorize'];
  const fieldPath = [...path, 'authorize'];
  const allowed = 'current (this pipeline), all (every pipeline), none, or a list of pipeline definition ids like [12, 34]';
  if (value === undefined) return { kind: 'current' };
  if (typeof value === 'string') {
    if ((authorizeKeywords as readonly string[]).includes(value)) return { kind: value as 'current' | 'all' | 'none' };
    const suggestion = closestMatch(value, authorizeKeywords);
    check.report('MIC120', fieldPath, `authorize ${JSON.stringify(value)} is not allowed${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ''}; use ${allowed}.`);
    return { kind: 'none' };
  }
  if (Array.isArray(value)) {
    const ids: number[] = [];
    if (value.length === 0) check.report('MIC120', fieldPath, `authorize is an empty list; use ${allowed}.`);
    value.forEach((item, index) => {
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 1) {
        check.report('MIC120', [...fieldPath, index], `${JSON.stringify(item)} is not a pipeline definition id (a whole number from 1).`);
      } else if (ids.includes(item)) {
        check.report('MIC122', [...fieldPath, index], `Pipeline ${item} is listed twice in ${formatPath(fieldPath)}.`);
      } else ids.push(item);
    });
    return { kind: 'pipelines', pipelineIds: ids };
  }
  check.report('MIC120', fieldPath, `authorize must be ${allowed}; got ${describeType(value)}.`);
  return { kind: 'none' };
}

function readRole(check: SpecCheck, value: unknown, path: FieldPath): ReadRole {
  const role = check.object(value, path, specFields.role);
  if (role === undefined) return { path };
  const name = check.string(role, 'role', path, { required: true, maxLength: limits.roleName });
  const scope = check.string(role, 'scope', path, { required: true });
  if (scope !== undefined && parseScope(scope) === undefined) {
    check.report('MIC118', [...path, 'scope'], `Scope ${JSON.stringify(scope)} is malformed; use ${scopeDescription}.`);
    return { path, ...optional('role', name) };
  }
  return { path, ...optional('role', name), ...optional('scope', scope) };
}

// ——— Rules across fields and environments ———

function checkAcrossEnvironments(check: SpecCheck, environments: readonly ReadEnvironment[], defaults: Defaults, options: SpecValidationOptions): void {
  const environmentNames = new Map<string, FieldPath>();
  const connectionNames = new Map<string, FieldPath>();
  const variableNames = new Map<string, { name: string; path: FieldPath }>();
  const identities = new Map<string, string>();
  const subscriptions = new Set<string>();
  if (defaults.subscriptionId) subscriptions.add(defaults.subscriptionId.toLowerCase());

  for (const environment of environments) {
    let repeatedName = false;
    if (environment.name !== undefined) {
      const first = environmentNames.get(environment.name);
      repeatedName = first !== undefined;
      if (first) check.report('MIC116', [...environment.path, 'name'], `Environment name ${JSON.stringify(environment.name)} is used twice (first at ${formatPath(first)}).`);
      else environmentNames.set(environment.name, environment.path);
    }
    for (const connection of environment.connections) {
      if (connection.subscriptionId) subscriptions.add(connection.subscriptionId.toLowerCase());
      if (connection.name === undefined) continue;
      const first = connectionNames.get(connection.name.toLowerCase());
      if (first) {
        check.report('MIC117', [...connection.path, 'name'], `Connection name ${JSON.stringify(connection.name)} is used twice (first at ${formatPath(first)}); names are unique per project, ignoring case.`);
        continue;
      }
      connectionNames.set(connection.name.toLowerCase(), connection.path);
      const variable = variableNamePart(connection.name).toLowerCase();
      const clash = variableNames.get(variable);
      if (clash) {
        check.report('MIC124', [...connection.path, 'name'], `Connections ${JSON.stringify(clash.name)} and ${JSON.stringify(connection.name)} would both set the output variable connectionId_${variableNamePart(connection.name)}.`);
      } else variableNames.set(variable, { name: connection.name, path: connection.path });
    }
    if (environment.connections.length > federatedCredentialLimit) {
      check.report(
        'MIC201',
        [...environment.path, 'connections'],
        `Environment ${environment.name ?? formatPath(environment.path)} declares ${environment.connections.length} connections; one identity holds at most ${federatedCredentialLimit} federated credentials (one per connection).`,
      );
    }
    const identity = resolveIdentity(check, environment, defaults);
    if (identity) subscriptions.add(identity.subscriptionId.toLowerCase());
    // A repeated environment name repeats its default identity name too; one problem is enough.
    if (identity && !(repeatedName && environment.identity.name === undefined)) {
      const key = identityKey(identity);
      const first = identities.get(key);
      if (first !== undefined) {
        check.report('MIC203', environment.identity.path, `Environments ${first} and ${environment.name} both use identity ${identity.name} in ${identity.resourceGroup}; each environment needs its own.`);
      } else identities.set(key, environment.name ?? formatPath(environment.path));
    }
  }

  for (const environment of environments) {
    const seenRoles = new Map<string, FieldPath>();
    for (const role of environment.roles) {
      if (role.role !== undefined && !options.allowPrivilegedRoles) {
        const privileged = wellKnownPrivilegedRole(role.role);
        if (privileged) {
          check.report('MIC301', [...role.path, 'role'], `Role ${privileged.name} (${privileged.guid}) can grant access to others; it is refused unless allowPrivilegedRoles is true.`);
        }
      }
      if (role.scope === undefined) continue;
      const scope = parseScope(role.scope)!;
      if (!subscriptions.has(scope.subscriptionId.toLowerCase())) {
        check.report('MIC119', [...role.path, 'scope'], `Scope ${role.scope} is in subscription ${scope.subscriptionId}, which no default, identity or connection of the spec names.`);
      }
      if (role.role === undefined) continue;
      const key = `${role.role.toLowerCase()}|${normalizeScope(role.scope)}`;
      const first = seenRoles.get(key);
      if (first) check.report('MIC122', role.path, `Role ${role.role} on ${role.scope} is listed twice (first at ${formatPath(first)}).`);
      else seenRoles.set(key, role.path);
    }
  }
}

interface ResolvedIdentity {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly location: string;
}

// Reports what is missing only once per environment: resolveIdentity runs again in toDesired, which only
// happens when there were no problems at all.
function resolveIdentity(check: SpecCheck | undefined, environment: ReadEnvironment, defaults: Defaults): ResolvedIdentity | undefined {
  const { identity } = environment;
  const missing = (field: 'subscriptionId' | 'resourceGroup' | 'location', fallback: string): void =>
    check?.report('MIC113', [...identity.path, field], `Environment ${environment.name ?? formatPath(environment.path)} needs identity.${field} (or defaults.${fallback}).`);
  const subscriptionId = identity.subscriptionId ?? defaults.subscriptionId;
  const resourceGroup = identity.resourceGroup ?? defaults.identityResourceGroup;
  const location = identity.location ?? defaults.location;
  const written = (field: string, fallback: string): boolean => identity.present.has(field) || defaults.present.has(fallback);
  if (subscriptionId === undefined && !written('subscriptionId', 'subscriptionId')) missing('subscriptionId', 'subscriptionId');
  if (resourceGroup === undefined && !written('resourceGroup', 'identityResourceGroup')) missing('resourceGroup', 'identityResourceGroup');
  if (location === undefined && !written('location', 'location')) missing('location', 'location');
  let name = identity.name;
  if (name === undefined && environment.name !== undefined) {
    name = `${defaults.namePrefix ?? defaultIdentityNamePrefix}${environment.name}`;
    if (!identityNameRule.pattern.test(name)) {
      check?.report('MIC114', [...environment.path, 'name'], `The default identity name ${JSON.stringify(name)} (namePrefix + environment name) is not valid: ${identityNameRule.description}. Set identity.name.`);
      return undefined;
    }
  }
  if (subscriptionId === undefined || resourceGroup === undefined || location === undefined || name === undefined) return undefined;
  return { subscriptionId, resourceGroup, name, location };
}

function toDesired(check: SpecCheck, environment: ReadEnvironment, defaults: Defaults): DesiredEnvironment {
  const identity = resolveIdentity(undefined, environment, defaults)!;
  const name = environment.name!;
  const tags = mergeTags(defaults.tags, environment.identity.tags);
  const connections = environment.connections.map(
    (connection): DesiredConnection => ({
      name: connection.name!,
      subscriptionId: connection.subscriptionId!,
      ...optional('resourceGroup', connection.resourceGroup),
      description: connection.description ?? defaultDescription(name, identity.name),
      shareWith: connection.shareWith,
      authorize: connection.authorize,
      ...optional('checks', connection.checks),
      origin: check.origin(connection.path),
    }),
  );
  const roles = environment.roles.map((role): DesiredRole => ({ role: role.role!.trim(), scope: role.scope!, origin: check.origin(role.path) }));
  return {
    name,
    identity: {
      ref: { subscriptionId: identity.subscriptionId, resourceGroup: identity.resourceGroup, name: identity.name },
      location: identity.location,
      tags,
      origin: check.origin(environment.identity.given ? environment.identity.path : environment.path),
      // Only a name our naming rule derived may be adopted as created by an earlier version (ownership.ts).
      ...(environment.identity.name === undefined ? { derivedName: true } : {}),
    },
    connections,
    roles,
    origin: check.origin(environment.path),
  };
}

export function defaultDescription(environment: string, identityName: string): string {
  return `Workload identity federation with managed identity ${identityName} for environment ${environment}. ${ownershipMarker}.`;
}

/** Identity tags win; tag names compare ignoring case (as Azure does), keeping the identity's spelling. */
function mergeTags(defaults: Readonly<Record<string, string>>, identity: Readonly<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries(defaults)) merged[key] = value;
  for (const [key, value] of Object.entries(identity)) {
    for (const existing of Object.keys(merged)) if (existing.toLowerCase() === key.toLowerCase()) delete merged[existing];
    merged[key] = value;
  }
  return merged;
}

// ——— Field checks ———

class SpecCheck {
  readonly problems: Problem[] = [];

  constructor(private readonly document: SpecDocument) {}

  report(code: ErrorCode, path: FieldPath, message: string, part: 'key' | 'value' = 'value'): void {
    const position = this.document.position(path, part);
    this.problems.push(problem(code, message, { field: formatPath(path), line: position?.line, column: position?.column }));
  }

  /**
   * Where an environment, connection or role was written, for findings the planner may raise later. Read
   * lazily: a valid JSON spec gets its positions from a second (YAML) parse, which most runs never need.
   */
  origin(path: FieldPath): SpecOrigin {
    const document = this.document;
    let position: SourcePosition | undefined | null = null;
    const locate = (): SourcePosition | undefined => (position === null ? (position = document.position(path)) : position);
    return {
      field: formatPath(path),
      get line() {
        return locate()?.line;
      },
      get column() {
        return locate()?.column;
      },
    };
  }

  object(value: unknown, path: FieldPath, fields: readonly string[]): Record<string, unknown> | undefined {
    if (!isPlainObject(value)) {
      const what = path.length === 0 ? 'The environments spec' : formatPath(path);
      this.report('MIC112', path, `${what} must be a mapping (object) with the fields ${fields.join(', ')}; got ${describeType(value)}.`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (fields.includes(key)) continue;
      const suggestion = closestMatch(key, fields);
      const where = path.length === 0 ? 'at the top of the spec' : `in ${formatPath(path)}`;
      this.report(
        'MIC111',
        [...path, key],
        `Unknown field ${JSON.stringify(key)} ${where}${suggestion ? `; did you mean ${JSON.stringify(suggestion)}?` : '.'} Allowed: ${fields.join(', ')}.`,
        'key',
      );
    }
    return value;
  }

  array(container: Record<string, unknown>, key: string, path: FieldPath, rule: { required: boolean; minItems: number; what: string }): unknown[] {
    const value = container[key];
    const fieldPath = [...path, key];
    if (value === undefined) {
      if (rule.required) this.report('MIC113', path, `${formatPath(fieldPath)} is required: a list of at least ${rule.minItems} ${rule.what}.`);
      return [];
    }
    if (!Array.isArray(value)) {
      this.report('MIC112', fieldPath, `${formatPath(fieldPath)} must be a list of ${rule.what}s; got ${describeType(value)}.`);
      return [];
    }
    if (value.length < rule.minItems) this.report('MIC113', fieldPath, `${formatPath(fieldPath)} must list at least ${rule.minItems} ${rule.what}.`);
    return value;
  }

  string(container: Record<string, unknown>, key: string, path: FieldPath, rule: { required: boolean; maxLength?: number }): string | undefined {
    const value = container[key];
    const fieldPath = [...path, key];
    if (value === undefined) {
      if (rule.required) this.report('MIC113', path, `${formatPath(fieldPath)} is required.`);
      return undefined;
    }
    if (typeof value !== 'string') {
      this.report('MIC112', fieldPath, `${formatPath(fieldPath)} must be a string; got ${describeType(value)}.`);
      return undefined;
    }
    if (rule.required && value.trim() === '') {
      this.report('MIC113', fieldPath, `${formatPath(fieldPath)} must not be empty.`);
      return undefined;
    }
    if (rule.maxLength !== undefined && value.length > rule.maxLength) {
      this.report('MIC123', fieldPath, `${formatPath(fieldPath)} is ${value.length} characters long; at most ${rule.maxLength} are allowed.`);
      return undefined;
    }
    return value;
  }

  named(container: Record<string, unknown>, key: string, path: FieldPath, nameRule: NameRule, what: string, rule: { required: boolean } = { required: false }): string | undefined {
    const value = this.string(container, key, path, rule);
    if (value === undefined) return undefined;
    if (!nameRule.pattern.test(value)) {
      this.report(what === 'location' ? 'MIC123' : 'MIC114', [...path, key], `${JSON.stringify(value)} is not a valid ${what}: ${nameRule.description}.`);
      return undefined;
    }
    return value;
  }

  guid(container: Record<string, unknown>, key: string, path: FieldPath): string | undefined {
    const value = this.string(container, key, path, { required: false });
    if (value === undefined) return undefined;
    if (!guidRule.pattern.test(value)) {
      this.report('MIC115', [...path, key], `${formatPath([...path, key])} ${JSON.stringify(value)} is not ${guidRule.description}.`);
      return undefined;
    }
    return value.toLowerCase();
  }

  tags(container: Record<string, unknown>, path: FieldPath): Record<string, string> {
    const value = container['tags'];
    const fieldPath = [...path, 'tags'];
    if (value === undefined) return {};
    if (!isPlainObject(value)) {
      this.report('MIC112', fieldPath, `${formatPath(fieldPath)} must be a mapping of tag names to string values; got ${describeType(value)}.`);
      return {};
    }
    const tags: Record<string, string> = {};
    const entries = Object.entries(value);
    if (entries.length > limits.tags) this.report('MIC123', fieldPath, `${formatPath(fieldPath)} has ${entries.length} tags; Azure allows at most ${limits.tags}.`);
    for (const [name, tagValue] of entries) {
      const tagPath = [...fieldPath, name];
      if (name.length === 0 || name.length > limits.tagName || /[<>%&\\?/]/.test(name)) {
        this.report('MIC123', tagPath, `Tag name ${JSON.stringify(name)} is not allowed: 1 to ${limits.tagName} characters, none of < > % & \\ ? /.`, 'key');
      } else if (typeof tagValue !== 'string') {
        this.report('MIC112', tagPath, `Tag ${JSON.stringify(name)} must have a string value; got ${describeType(tagValue)} (quote numbers and booleans, e.g. "1234").`);
      } else if (tagValue.length > limits.tagValue) {
        this.report('MIC123', tagPath, `Tag ${JSON.stringify(name)} has a value of ${tagValue.length} characters; at most ${limits.tagValue} are allowed.`);
      } else tags[name] = tagValue;
    }
    return tags;
  }
}

function presentFields(container: Record<string, unknown>): Set<string> {
  return new Set(Object.keys(container).filter((key) => container[key] !== undefined));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return `${typeof value === 'number' ? 'the number' : `the ${typeof value}`} ${String(value)}`;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
