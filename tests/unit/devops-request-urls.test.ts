// Protects adapters/devops-request-urls.ts: every request URL an azure-devops-node-api client builds with
// DirectUrlVsoClient is the one the library's own VsoClient builds (url.resolve), for generated route values and
// query parameters of every kind; and the task's usual URLs no longer go through url.resolve.
import * as assert from 'node:assert/strict';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { VsoClient } from 'azure-devops-node-api/VsoClient';
import type { RestClient } from 'typed-rest-client/RestClient';
import { DirectUrlVsoClient, resolveRequestUrlsDirectly } from '../../tasks/ManagedIdentityConnections/src/adapters/devops-request-urls';
// The module object itself (VsoClient's `require("url")`), not an import's copy of it: the test counts its calls.
import legacyUrl = require('node:url');

/** getRequestUrl is protected: what getVersioningData calls, called here directly. */
type RequestUrls = { getRequestUrl(routeTemplate: string, area: string, resource: string, routeValues: Record<string, unknown>, queryParams?: unknown): string };
const requestUrl = (client: VsoClient, ...args: Parameters<RequestUrls['getRequestUrl']>): string => (client as unknown as RequestUrls).getRequestUrl(...args);

const restClient = {} as RestClient;

// Route templates of the locations the task's calls use (tests/emulator/devops/locations.ts), and odd ones.
const routeTemplates = [
  '{project}/_apis/{area}/{resource}/{endpointId}',
  '_apis/{area}/{resource}/{endpointId}',
  '{project}/_apis/{area}/{resource}',
  '{project}/_apis/{area}/{endpointId}/{resource}',
  '_apis/{resource}/{*projectId}',
  '{project}/_apis/pipelines/{pipelineId}/{resource}/{runId}',
  '{project}/_apis/{area}/{resource}/{resourceType}/{resourceId}',
  '_apis/{resource}/{{literal}}/{areaId}',
];

const baseUrls = [
  'https://dev.azure.com/contoso/',
  'https://dev.azure.com/contoso',
  'https://Contoso.VisualStudio.com/',
  'https://DEV.azure.com:443/contoso/',
  'http://tfs.example:8080/tfs/DefaultCollection/',
  'https://user:p%40ss@tfs.example/tfs/Default%20Collection/',
  'https://tfs.example/tfs/Default Collection/',
  'https://127.0.0.1:40403/contoso/',
];

/** A small seeded generator: the same cases on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('Azure DevOps request URLs without url.resolve (DirectUrlVsoClient)', () => {
  /** Runs `body` counting the calls of url.resolve, which VsoClient makes through the same module object. */
  function countingUrlResolve<T>(body: (calls: () => number) => T): T {
    const resolve = legacyUrl.resolve;
    let calls = 0;
    legacyUrl.resolve = (from: string, to: string) => {
      calls++;
      return resolve(from, to);
    };
    try {
      return body(() => calls);
    } finally {
      legacyUrl.resolve = resolve;
    }
  }

  it('builds the URL the library builds, for 4,000 generated routes, values and queries', () => {
    const random = generator(20261205);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    // Plain names most of the time (the task's usual case), and every character url.resolve or path.join treats
    // specially some of the time.
    const alphabet = [...'abcXYZ019-_.~', ..."!$&'()*+,;=:@/?#%[]{}|\\^`\"<> \t", 'é', 'ü', '中', '😀', '..', '%2F'];
    const text = (): string => (random() < 0.5 ? pick(['Platform', 'env-prod', '3f2a9c4e-0000-4000-8000-000000000001', 'My Project']) : Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(alphabet)).join(''));
    const query = (): unknown =>
      pick([
        undefined,
        { 'api-version': '7.1' },
        { endpointNames: [text(), text()], includeFailed: true },
        { type: text(), owner: 'library', top: 5 },
        { nested: { inner: text() }, when: new Date(Date.UTC(2026, 11, 5)) },
        text(),
      ]);
    let direct = 0;
    for (let index = 0; index < 4000; index++) {
      const baseUrl = pick(baseUrls);
      const template = pick(routeTemplates);
      const seedValues = { project: text(), endpointId: text(), pipelineId: random() < 0.5 ? 42 : text(), runId: 7, resourceType: 'endpoint', resourceId: text(), projectId: text(), areaId: text() };
      const queryParams = query();
      const expected = requestUrl(new VsoClient(baseUrl, restClient), template, 'serviceendpoint', 'endpoints', { ...seedValues }, queryParams);
      const client = new DirectUrlVsoClient(baseUrl, restClient);
      const actual = countingUrlResolve((calls) => {
        const url = requestUrl(client, template, 'serviceendpoint', 'endpoints', { ...seedValues }, queryParams);
        if (calls() === 0) direct++;
        return url;
      });
      assert.equal(actual, expected, `${baseUrl} ${template} ${JSON.stringify(seedValues)} ${JSON.stringify(queryParams)}`);
    }
    // Both ways are taken: without url.resolve for plain values, through it for the odd ones above.
    assert.ok(direct > 1000 && direct < 3500, `${direct} of 4,000 URLs without url.resolve`);
  });

  it('sends the task’s usual requests without calling url.resolve, and others through it', () => {
    const client = new DirectUrlVsoClient('https://dev.azure.com/contoso/', restClient);
    countingUrlResolve((calls) => {
      const url = requestUrl(client, '{project}/_apis/{area}/{resource}/{endpointId}', 'serviceendpoint', 'endpoints', { project: 'Platform' }, { endpointNames: ['env-dev', 'env-prod'], 'api-version': '7.1' });
      assert.equal(url, 'https://dev.azure.com/contoso/Platform/_apis/serviceendpoint/endpoints?endpointNames=env-dev%2Cenv-prod&api-version=7.1');
      assert.equal(calls(), 0);
      // A quote is escaped by url.resolve (%27) and kept by encodeURIComponent: the library resolves it.
      const quoted = requestUrl(client, '{project}/_apis/{area}/{resource}', 'serviceendpoint', 'endpoints', { project: "Bob's" });
      assert.equal(quoted, 'https://dev.azure.com/contoso/Bob%27s/_apis/serviceendpoint/endpoints');
      assert.equal(calls(), 1);
    });
  });

  it('leaves every URL to the library when its route helpers are missing (another version of it)', () => {
    class WithoutQueryHelper extends DirectUrlVsoClient {}
    Object.defineProperty(WithoutQueryHelper.prototype, 'queryParamsToString', { value: undefined });
    const client = new WithoutQueryHelper('https://dev.azure.com/contoso/', restClient);
    countingUrlResolve((calls) => {
      const url = requestUrl(client, '{project}/_apis/{area}/{resource}', 'serviceendpoint', 'endpoints', { project: 'Platform' });
      assert.equal(url, 'https://dev.azure.com/contoso/Platform/_apis/serviceendpoint/endpoints');
      assert.equal(calls(), 1);
    });
  });

  it('is installed on an API client before its first request, on the same base URL and RestClient', () => {
    const api = new ServiceEndpointApi('https://dev.azure.com/contoso/', [new BearerCredentialHandler('t0ken', false)], {}, 'test-agent');
    const rest = api.vsoClient.restClient;
    resolveRequestUrlsDirectly([api]);
    assert.ok(api.vsoClient instanceof DirectUrlVsoClient);
    assert.equal(api.vsoClient.restClient, rest);
    assert.equal(api.vsoClient.baseUrl, 'https://dev.azure.com/contoso/');
  });
});
