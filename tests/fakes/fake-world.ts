// One fake world — ARM, Azure DevOps and the agent — wired together the way the composition root wires the
// real adapters, with a small default estate: one tenant, two subscriptions, an identity resource group in
// each, and two projects.
import type { Ports } from '../../tasks/ManagedIdentityConnections/src/ports';
import { CallLog } from './call-log';
import { FakeAzure } from './fake-azure';
import { FakeDevOps } from './fake-devops';
import { FakeDirectory } from './fake-directory';
import { FakePlatform } from './fake-platform';

export const world = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  otherTenantId: '33e01921-4d64-4f8c-a055-5bdaffd5e33d',
  organizationId: 'f1b2c3d4-0000-4000-8000-00000000000a',
  devSubscription: { subscriptionId: '11111111-1111-4111-8111-111111111111', displayName: 'Contoso Dev' },
  prodSubscription: { subscriptionId: '22222222-2222-4222-8222-222222222222', displayName: 'Contoso Prod' },
  foreignSubscription: { subscriptionId: '33333333-3333-4333-8333-333333333333', displayName: 'Partner' },
  identityResourceGroup: 'rg-identities',
  project: { id: 'a0a0a0a0-0000-4000-8000-000000000001', name: 'Platform' },
  otherProject: { id: 'b0b0b0b0-0000-4000-8000-000000000002', name: 'Apps' },
  thirdProject: { id: 'c0c0c0c0-0000-4000-8000-000000000003', name: 'Data' },
  pipelineId: 42,
  /** Another pipeline of `project`. */
  otherPipelineId: 7,
  /** A pipeline of `otherProject` (Apps). */
  appsPipelineId: 12,
} as const;

export interface FakeWorld {
  readonly log: CallLog;
  readonly azure: FakeAzure;
  readonly devOps: FakeDevOps;
  readonly directory: FakeDirectory;
  readonly platform: FakePlatform;
  readonly ports: Ports;
}

export function createFakeWorld(options: { latencyTicks?: number } = {}): FakeWorld {
  const log = new CallLog(options.latencyTicks ?? 2);
  const azure = new FakeAzure(log, {
    subscriptions: [
      { ...world.devSubscription, tenantId: world.tenantId },
      { ...world.prodSubscription, tenantId: world.tenantId },
      { ...world.foreignSubscription, tenantId: world.otherTenantId },
    ],
    resourceGroups: [
      { subscriptionId: world.devSubscription.subscriptionId, name: world.identityResourceGroup },
      { subscriptionId: world.prodSubscription.subscriptionId, name: world.identityResourceGroup },
    ],
  });
  const devOps = new FakeDevOps(log, azure, {
    organizationId: world.organizationId,
    tenantId: world.tenantId,
    project: world.project,
    otherProjects: [world.otherProject, world.thirdProject],
    projectPipelines: [world.pipelineId, world.otherPipelineId],
    otherProjectPipelines: { [world.otherProject.id]: [world.appsPipelineId] },
  });
  const platform = new FakePlatform();
  const directory = new FakeDirectory(log);
  return { log, azure, devOps, directory, platform, ports: { platform, identities: azure.identityClient, roles: azure.roleClient, devOps: devOps.client, directory: directory.client } };
}
