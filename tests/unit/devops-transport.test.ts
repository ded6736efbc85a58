// Protects adapters/devops-transport.ts: azure-devops-node-api's clients hand every request — with the credential
// handler's Authorization and the client's headers — to the task's transport, and read its answer as they read
// typed-rest-client's own, successes and failures alike (so service-failure.ts still sees an Azure DevOps error).
import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { sendThrough, type DevOpsAnswer, type DevOpsRequest, type DevOpsTransport } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-transport';
import { describeFailure } from '../../tasks/ManagedIdentityConnections/src/adapters/service-failure';

const collection = 'https://dev.azure.com/contoso/';

/** Answers from a queue and records what was sent. */
class RecordingTransport implements DevOpsTransport {
  readonly sent: DevOpsRequest[] = [];
  constructor(private readonly answers: DevOpsAnswer[]) {}

  send(request: DevOpsRequest): Promise<DevOpsAnswer> {
    this.sent.push(request);
    const answer = this.answers.shift();
    return answer ? Promise.resolve(answer) : Promise.reject(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
  }
}

function endpointApi(transport: DevOpsTransport): ServiceEndpointApi {
  const handler = new BearerCredentialHandler('t0ken', false);
  const options = { headers: { 'X-TFS-FedAuthRedirect': 'Suppress' }, allowRetries: false };
  const api = new ServiceEndpointApi(collection, [handler], options, 'test-agent');
  sendThrough(transport, [api], 'test-agent', [handler], options);
  return api;
}

const json = (status: number, body: unknown): DevOpsAnswer => ({ status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) });

describe('the Azure DevOps transport (azure-devops-node-api over the task\'s HTTP client)', () => {
  it('sends the request as the library prepared it, Authorization and headers included, and returns the parsed answer', async () => {
    const transport = new RecordingTransport([json(200, { id: 'c1', name: 'app-dev' })]);
    const api = endpointApi(transport);
    const answer = await api.rest.create<{ id: string }>(`${collection}Platform/_apis/serviceendpoint/endpoints?api-version=7.1`, { name: 'app-dev' });
    assert.equal(answer.statusCode, 200);
    assert.deepEqual(answer.result, { id: 'c1', name: 'app-dev' });
    const [sent] = transport.sent;
    assert.equal(sent!.method, 'POST');
    assert.equal(sent!.url, `${collection}Platform/_apis/serviceendpoint/endpoints?api-version=7.1`);
    assert.equal(sent!.headers.authorization, 'Bearer t0ken');
    assert.equal(sent!.headers['x-tfs-fedauthredirect'], 'Suppress');
    assert.equal(sent!.headers['user-agent'], 'test-agent');
    assert.deepEqual(JSON.parse(sent!.body!), { name: 'app-dev' });
  });

  it('serves the library\'s location negotiation and typed calls too', async () => {
    const location = { id: 'e85f1c62-adfc-4b74-b618-11a150fb195e', area: 'serviceendpoint', resourceName: 'endpoints', routeTemplate: '{project}/_apis/{area}/{resource}/{endpointId}', resourceVersion: 4, minVersion: '5.0', maxVersion: '7.1', releasedVersion: '7.1' };
    const transport = new RecordingTransport([json(200, { count: 1, value: [location] }), json(200, { id: 'c1', name: 'app-dev', isReady: true })]);
    const endpoint = await endpointApi(transport).getServiceEndpointDetails('Platform', 'c1');
    assert.equal(endpoint.name, 'app-dev');
    assert.deepEqual(
      transport.sent.map((request) => request.method),
      ['OPTIONS', 'GET'],
    );
    assert.equal(transport.sent[1]!.url, `${collection}Platform/_apis/serviceendpoint/endpoints/c1`);
    // The negotiated version (the server's 7.1 for the library's 7.2-preview) travels in Accept.
    assert.match(transport.sent[1]!.headers.accept!, /api-version=7\.1/);
  });

  it('turns an error answer into the library\'s error, which reads as an Azure DevOps failure with its typeKey', async () => {
    const transport = new RecordingTransport([{ ...json(409, { message: 'A connection named app-dev exists.', typeKey: 'DuplicateServiceConnectionException' }), headers: { 'content-type': 'application/json', activityid: 'a-1' } }]);
    const failure = await endpointApi(transport)
      .rest.create(`${collection}_apis/serviceendpoint/endpoints?api-version=7.1`, {})
      .then(
        () => assert.fail('expected a failure'),
        (error: unknown) => describeFailure(error),
      );
    assert.deepEqual(failure, { source: 'devops', statusCode: 409, code: 'DuplicateServiceConnectionException', message: 'A connection named app-dev exists.', correlationId: 'a-1' });
  });

  it('passes on a transport failure as is, for the retry policy to read as a dropped connection', async () => {
    const failure = await endpointApi(new RecordingTransport([]))
      .rest.get(`${collection}_apis/projects?api-version=7.1`)
      .then(
        () => assert.fail('expected a failure'),
        (error: unknown) => describeFailure(error),
      );
    assert.equal(failure.source, 'network');
    assert.equal(failure.code, 'ECONNRESET');
  });

  it('refuses a streamed body, which no call of the task sends', async () => {
    const transport = new RecordingTransport([json(200, {})]);
    await assert.rejects(endpointApi(transport).http.sendStream('PUT', `${collection}_apis/x`, Readable.from(['a']), {}), /streamed request body/);
    assert.equal(transport.sent.length, 0);
  });
});
