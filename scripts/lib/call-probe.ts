// What one request costs the task's process, in isolation: `npm run bench -- --calls` runs this file in a process
// of its own for each kind of request, against the emulator in the bench's process (whose JSON line it gets in
// MIC_CALL_PROBE), and prints one JSON line: the CPU this process spent on bursts of N requests sent at once, per
// request.
//
// The whole-run figure (CPU per further environment) moves by ±0.6 ms between runs on a shared machine and mixes
// every cost of a run; this one isolates the path each request takes — the Azure SDK or azure-devops-node-api,
// the task's ServiceCalls and its HTTP/2 transport — against a bare Node http2 request with the same
// authentication, so that a change to that path can be measured on its own (docs/performance.md).
import { connect } from 'node:http2';
import { ArmIdentityClient } from '../../tasks/ManagedIdentityConnections/src/adapters/arm-clients';
import { ConsolePlatform } from '../../tasks/ManagedIdentityConnections/src/adapters/console-platform';
import { pipelineCredential } from '../../tasks/ManagedIdentityConnections/src/adapters/credentials';
import { AzureDevOpsClient } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-client';
import { devOpsTransport, type HttpSettings } from '../../tasks/ManagedIdentityConnections/src/adapters/http-client';
import { ServiceCalls } from '../../tasks/ManagedIdentityConnections/src/adapters/service-calls';
import { sharedTokenCredential, USER_AGENT } from '../../tasks/ManagedIdentityConnections/src/composition';
import { cloudDefaults } from '../../tasks/ManagedIdentityConnections/src/config';
import { Secret } from '../../tasks/ManagedIdentityConnections/src/secret';
import type { EmulatorJsonLine } from '../../tests/emulator/json-line';
import { CALL_KINDS, type CallKind, type CallProbeResult } from './call-costs';

// Only retries would print, masked as the CLI masks them; stdout carries the probe's one JSON line.
const platform = new ConsolePlatform({ stdout: process.stderr, stderr: process.stderr, cwd: process.cwd() });

/** One request of `kind`, the i-th: writes get distinct names, so each creates something. */
type Send = (index: number) => Promise<unknown>;

async function senderFor(kind: CallKind, info: EmulatorJsonLine): Promise<Send> {
  // A run's signal (task-lifetime.ts), as the task's composition root passes it to both: every request honours it.
  const { signal } = new AbortController();
  const http: HttpSettings = { signal };
  const calls = new ServiceCalls({ platform, deadlineMs: 60_000, signal });
  const subscription = info.subscriptions[0]!;
  const armResource = cloudDefaults.armResourceId;
  const credential = sharedTokenCredential(
    pipelineCredential({
      tenantId: info.tenantId,
      clientId: info.bootstrapConnection.clientId,
      connectionId: info.bootstrapConnection.id,
      systemAccessToken: info.systemAccessToken,
      authorityHost: info.authorityHost,
      setSecret: (value) => platform.setSecret(value),
      http,
    }),
  );
  const run = `${process.pid}`;
  const identity = (index: number) => ({ subscriptionId: subscription.id, resourceGroup: 'rg-identities', name: `id-probe-${run}-${index}` });
  switch (kind) {
    case 'http2': {
      // The same PUT as an ARM write, authenticated, on one session: the floor under every other kind.
      const token = (await credential.getToken(`${armResource}.default`))!.token;
      // The probe exits when it has its figure; the session needs no closing.
      const session = connect(info.armEndpoint);
      return (index) =>
        new Promise((resolve, reject) => {
          const ref = identity(index);
          const stream = session.request({
            ':method': 'PUT',
            ':path': `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${ref.name}?api-version=2024-11-30`,
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json',
          });
          const chunks: Buffer[] = [];
          let status = 0;
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => (status < 300 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : reject(new Error(`HTTP ${status}`))));
          stream.on('error', reject);
          stream.end(JSON.stringify({ location: 'westeurope', tags: {} }));
        });
    }
    case 'armWrite': {
      const identities = new ArmIdentityClient({ endpoint: info.armEndpoint, resourceId: armResource, credential, userAgent: USER_AGENT, http }, calls);
      return (index) => identities.createOrUpdateIdentity(identity(index), { location: 'westeurope', tags: {} });
    }
    case 'devOpsTransport': {
      // The same read as devOpsRead, through the task's transport without azure-devops-node-api: what the
      // library's part of an Azure DevOps call costs is the difference.
      const transport = devOpsTransport(http);
      const url = `${info.collectionUri}${info.project.id}/_apis/serviceendpoint/endpoints?endpointNames=${encodeURIComponent(info.bootstrapConnection.name)}&includeFailed=true&includeDetails=true&api-version=7.1`;
      const headers = { authorization: `Bearer ${info.systemAccessToken}`, accept: 'application/json', 'x-tfs-fedauthredirect': 'Suppress', 'user-agent': USER_AGENT };
      return async () => {
        const answer = await transport.send({ method: 'GET', url, headers });
        if (answer.status >= 300) throw new Error(`Azure DevOps answered ${answer.status}: ${answer.body}`);
        return JSON.parse(answer.body) as unknown;
      };
    }
    case 'devOpsRead':
    case 'devOpsWrite': {
      const devOps = new AzureDevOpsClient(
        { collectionUri: info.collectionUri, project: info.project, token: new Secret(info.systemAccessToken), tokenKind: 'bearer', userAgent: USER_AGENT, transport: devOpsTransport(http) },
        calls,
      );
      if (kind === 'devOpsRead') return () => devOps.findConnections([info.bootstrapConnection.name]);
      return (index) =>
        devOps.createConnection({
          name: `probe-${run}-${index}`,
          description: 'a connection of the bench call probe',
          url: info.armEndpoint,
          azureEnvironment: 'AzureCloud',
          tenantId: info.tenantId,
          clientId: info.bootstrapConnection.clientId,
          subscriptionId: subscription.id,
          subscriptionName: subscription.name,
          project: info.project,
        });
    }
  }
}

/**
 * `rounds` bursts of `requests` at once, one after the other: the burst is what a run has in flight, and several
 * of them spread the garbage collections and compilations that one burst of a few milliseconds meets or misses.
 */
export async function probe(kind: CallKind, requests: number, rounds: number, info: EmulatorJsonLine): Promise<CallProbeResult> {
  const send = await senderFor(kind, info);
  // Two first: the sign-in, the session and the first use of each module are start-up, not a request's cost.
  await send(-1);
  await send(-2);
  const before = process.cpuUsage();
  for (let round = 0; round < rounds; round++) await Promise.all(Array.from({ length: requests }, (_, index) => send(round * requests + index)));
  const used = process.cpuUsage(before);
  const cpuMs = (used.user + used.system) / 1000;
  const sent = requests * rounds;
  return { kind, requests: sent, cpuMs: Math.round(cpuMs * 10) / 10, cpuMsPerRequest: Math.round((cpuMs / sent) * 1000) / 1000 };
}

if (require.main === module) {
  const [kind, count, rounds = '1'] = process.argv.slice(2);
  const info = JSON.parse(process.env.MIC_CALL_PROBE ?? 'null') as EmulatorJsonLine | null;
  if (!info || !(CALL_KINDS as readonly string[]).includes(kind ?? '') || !(Number(count) >= 1) || !(Number(rounds) >= 1)) {
    console.error(`usage: MIC_CALL_PROBE='<the emulator's JSON line>' node call-probe.js ${CALL_KINDS.join('|')} REQUESTS [ROUNDS]`);
    process.exit(2);
  }
  probe(kind as CallKind, Number(count), Number(rounds), info).then(
    (result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
