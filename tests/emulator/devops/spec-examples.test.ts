// Protects fidelity to Microsoft's published API: every HTTP example under
// tests/reference/ado-specs is replayed against the emulator (URLs, ids and project names mapped
// onto the emulated organization) and must answer the example's status code with a body of the same
// shape (keys and JSON types). The examples build on each other the way their ids do (create, read,
// update, share, delete), so they run in file order below, against one emulator.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { shapeDifferences } from './json-shape';
import { DEFAULT_DEVOPS_IDS, type DevOpsSeed } from './seed';
import { defaultSeed } from '../modules';
import type { RunningEmulator } from '../emulator';
import { control, startTestEmulator } from '../../helpers/emulator';
import { referenceRoot } from '../../helpers/reference';

const SPECS = join(referenceRoot, 'ado-specs');

interface Example {
  'x-ms-vss-request-method': string;
  'x-ms-vss-request-url': string;
  parameters: { body?: unknown; 'api-version'?: string; accept?: string };
  responses: Record<string, { body?: unknown }>;
}

function examplesOnDisk(directory = SPECS): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return examplesOnDisk(path);
    return path.includes('/httpExamples/') && name.endsWith('.json') ? [relative(SPECS, path)] : [];
  });
}

const ENDPOINTS = 'serviceEndpoint/7.1/httpExamples';
const PERMISSIONS = 'approvalsAndChecks/7.1/httpExamples/pipelinePermissions';

/** Replay order: creates first (their response ids become the ids later examples use), deletes last. */
const REPLAY_ORDER = [
  `${ENDPOINTS}/endpoints/CreateGenericEndpoint.json`,
  `${ENDPOINTS}/endpoints/CreateAzureRMEndpoint.json`,
  `${ENDPOINTS}/endpoints/POST__CreateServiceEndpoint.json`,
  `${ENDPOINTS}/endpoints/GET__ServiceEndpoints.json`,
  `${ENDPOINTS}/endpoints/GET__ServiceEndpointDetails.json`,
  `${ENDPOINTS}/endpoints/GetServiceEndpointDetails.json`,
  `${ENDPOINTS}/endpoints/GetServiceEndpointsByName.json`,
  `${ENDPOINTS}/endpoints/ListEndpoints.json`,
  `${ENDPOINTS}/endpoints/PUT__UpdateServiceEndpoint.json`,
  `${ENDPOINTS}/endpoints/PUT__UpdateServiceEndpoints.json`,
  `${ENDPOINTS}/endpoints/GET__ServiceEndpointsByNames.json`,
  `${ENDPOINTS}/endpoints/UpdateServiceEndpoint.json`,
  `${ENDPOINTS}/endpoints/UpdateServiceEndpoints.json`,
  `${ENDPOINTS}/endpoints/ShareServiceEndpoint.json`,
  `${ENDPOINTS}/endpoints/ListEndpointTypes.json`,
  `${ENDPOINTS}/types/GET__ServiceEndpointTypes.json`,
  `${ENDPOINTS}/executionhistory/GET__ServiceEndpointExecutionRecords.json`,
  `${ENDPOINTS}/endpointproxy/POST__ExecuteServiceEndpointRequestAsync.json`,
  `${PERMISSIONS}/PATCH__UpdatePipelinePermissionsForResource.json`,
  `${PERMISSIONS}/GET__GetPipelinePermissionsForResource.json`,
  `${PERMISSIONS}/PATCH__UpdatePipelinePermissionsForResources.json`,
  `${ENDPOINTS}/endpoints/DELETE__ServiceEndpoint.json`,
  `${ENDPOINTS}/endpoints/DeleteServiceEndpoint.json`,
];

/** The examples' pipeline ids, agent queue and environment, added to the default world. */
function replaySeed(): Record<string, unknown> {
  const seed = defaultSeed();
  const devops = seed.devops as DevOpsSeed;
  for (const id of [6, 11, 15, 16]) devops.pipelines.push({ id, project: 'Platform', name: `example-pipeline-${id}` });
  devops.pipelineResources!.push({ project: 'Platform', type: 'environment', id: '1', name: 'SampleEnv' }, { project: 'Platform', type: 'queue', id: '2', name: 'Default' });
  return seed;
}

describe('devops: Microsoft HTTP examples replayed', () => {
  let emulator: RunningEmulator;
  let ownerToken: string;
  /** Example value → emulator value: project names and ids, and endpoint ids as examples create them. */
  const mapping = new Map<string, string>();

  const map = (value: string): string => mapping.get(value) ?? value;
  const mapDeep = (value: unknown): unknown => {
    if (typeof value === 'string') return map(value);
    if (Array.isArray(value)) return value.map(mapDeep);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapDeep(item)]));
    return value;
  };

  async function send(example: Example, body = example.parameters.body): Promise<{ status: number; body: unknown }> {
    const original = new URL(example['x-ms-vss-request-url'].replace(/ /g, '%20'));
    const [, , ...segments] = original.pathname.split('/').map(decodeURIComponent);
    const url = new URL(segments.map((segment) => encodeURIComponent(map(segment))).join('/'), String(emulator.info.collectionUri));
    for (const [key, value] of original.searchParams) url.searchParams.set(key, value.split(',').map(map).join(','));
    const headers: Record<string, string> = { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' };
    if (example.parameters['api-version']) url.searchParams.set('api-version', example.parameters['api-version']);
    else if (example.parameters.accept) headers.accept = example.parameters.accept;
    const response = await fetch(url, { method: example['x-ms-vss-request-method'], headers, body: body === null || body === undefined ? undefined : JSON.stringify(mapDeep(body)) });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async function createAsOwner(body: Record<string, unknown>): Promise<string> {
    const response = await fetch(new URL('_apis/serviceendpoint/endpoints?api-version=7.1', String(emulator.info.collectionUri)), {
      method: 'POST',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { id: string }).id;
  }

  /** Arrangements an example needs that no earlier example makes. */
  const arrange: Record<string, () => Promise<void>> = {
    [`${ENDPOINTS}/endpoints/GET__ServiceEndpoints.json`]: async () => {
      const platform = [{ projectReference: { id: DEFAULT_DEVOPS_IDS.platformProjectId, name: 'Platform' }, name: 'TestEndpoint3' }];
      const data = { SubscriptionId: '12345678-1234-1234-1234-123456789012', SubscriptionName: 'TestSubscriptionName', environment: 'AzureCloud' };
      mapping.set(
        '06608515-e864-45ca-89cb-0a2a3cb6ebd0',
        await createAsOwner({ name: 'TestEndpoint3', type: 'Azure', data, authorization: { scheme: 'UsernamePassword', parameters: { username: 'u', password: 'p' } }, serviceEndpointProjectReferences: platform }),
      );
      mapping.set(
        'ffc7206f-1dc1-4008-8a80-ceb77cc98d70',
        await createAsOwner({
          name: 'TestEndpoint2',
          type: 'Generic',
          url: 'http://testUrl',
          authorization: { scheme: 'UsernamePassword', parameters: { username: 'username', password: 'secret' } },
          serviceEndpointProjectReferences: [{ ...platform[0], name: 'TestEndpoint2' }],
        }),
      );
    },
    [`${ENDPOINTS}/executionhistory/GET__ServiceEndpointExecutionRecords.json`]: async () => {
      const job = await control<{ runId: number }>(emulator, 'POST', 'devops/jobs', {});
      await control(emulator, 'POST', `devops/runs/${job.runId}/complete`, { result: 'succeeded' });
    },
  };

  /** How an example's request must change to mean the same thing here. */
  const adapt: Record<string, (example: Example) => unknown> = {
    // The example queries a Jenkins connection's "Jobs"; the emulated azurerm type's data source is TestConnection.
    [`${ENDPOINTS}/endpointproxy/POST__ExecuteServiceEndpointRequestAsync.json`]: (example) => ({
      ...(example.parameters.body as Record<string, unknown>),
      dataSourceDetails: { dataSourceName: 'TestConnection', parameters: {} },
    }),
  };

  /** Type listings: compare the types the emulator knows with the example's entries of the same name. */
  function typeDifferences(actual: unknown, example: unknown): string[] {
    const actualTypes = (actual as { value: Array<{ name: string }> }).value;
    const exampleBody = example as { count: number; value: Array<{ name: string }> };
    const differences = shapeDifferences(actual, { count: exampleBody.count, value: [] });
    const compared = exampleBody.value.filter((type) => actualTypes.some((candidate) => candidate.name.toLowerCase() === type.name.toLowerCase()));
    assert.ok(compared.length > 0, 'the example lists at least one emulated type');
    for (const type of compared) {
      const mine = actualTypes.find((candidate) => candidate.name.toLowerCase() === type.name.toLowerCase());
      differences.push(...shapeDifferences(mine, type, `$.value[${type.name}]`, { allowEmptyArrays: true }));
    }
    return differences;
  }

  before(async () => {
    emulator = await startTestEmulator({ seed: replaySeed() });
    ownerToken = (await control<{ accessToken: string }>(emulator, 'POST', 'devops/tokens', { identity: 'owner' })).accessToken;
    for (const name of ['DefaultAgileGitProject', 'TestProject', 'RM', 'c7e5f0b3-71fa-4429-9fb3-3321963a7c06']) mapping.set(name, name.includes('-') ? DEFAULT_DEVOPS_IDS.platformProjectId : 'Platform');
    mapping.set('TestProject2', 'Apps');
    mapping.set('184fda7e-3559-4b3c-afa0-1b6998330f84', DEFAULT_DEVOPS_IDS.appsProjectId);
    mapping.set('fabrikam', 'contoso');
    for (const id of ['18807d4f-3345-4888-b2dc-f2884e4eb235', '96e0fef2-3aaf-456f-bba0-920731ecab83']) mapping.set(id, DEFAULT_DEVOPS_IDS.bootstrapConnectionId);
  });
  after(() => emulator.close());

  it('replays every example file on disk', () => {
    assert.deepEqual([...REPLAY_ORDER].sort(), examplesOnDisk().sort());
  });

  for (const file of REPLAY_ORDER) {
    it(file, async () => {
      const example = JSON.parse(readFileSync(join(SPECS, file), 'utf8')) as Example;
      await arrange[file]?.();
      const [expectedStatus, expected] = Object.entries(example.responses)[0];
      const response = await send(example, adapt[file]?.(example) ?? example.parameters.body);
      assert.equal(response.status, Number(expectedStatus), JSON.stringify(response.body));
      if (expected.body !== undefined) {
        const differences = file.includes('Types') ? typeDifferences(response.body, expected.body) : shapeDifferences(response.body, expected.body);
        assert.deepEqual(differences, [], JSON.stringify(response.body, null, 1).slice(0, 2000));
      }
      // Created connections take the place of the example's ids from here on.
      const exampleId = (expected.body as { id?: string } | undefined)?.id;
      const actualId = (response.body as { id?: string } | undefined)?.id;
      if (example['x-ms-vss-request-method'] === 'POST' && exampleId && actualId) mapping.set(exampleId, actualId);
    });
  }
});
