// azure-devops-node-api resolves the URL of every request with Node's legacy URL API: VsoClient.getRequestUrl ends
// in `url.resolve(baseUrl, path.join(basePath, relativeUrl))`, which parses both URLs with `url.parse`, a large
// JavaScript function. A run pays for it twice: on each request, and — once a run sends a hundred or so — when
// V8's optimizing compiler compiles it mid-run. Measured on a 50-environment run: 0.4 ms of CPU per environment,
// about 7 % of the task's (docs/performance.md, "Azure DevOps request URLs").
//
// Whenever the path and query the library builds are made only of characters url.resolve copies as they are,
// its answer is the base URL's scheme and authority followed by that path. That is what this client returns,
// with the route and the query built by the library's own helpers; any other URL (a character url.resolve
// escapes, the backslashes of path.join on Windows) is still resolved by the library. So every request goes
// to the URL the library would send it to: a test compares the two on generated routes and values.
import { join } from 'node:path';
import type { RestClient } from 'typed-rest-client/RestClient';
import { VsoClient } from 'azure-devops-node-api/VsoClient';

/**
 * A path and query url.resolve copies unchanged: no character it escapes, no fragment, no backslash; an absolute
 * path, not `//host`; no `.` or `..` segment, which it removes (path.join leaves one that a `?` follows).
 */
const copiedUnchanged = /^\/(?!\/)(?![^?]*\/\.\.?(?:[/?]|$))[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;

/** The helpers VsoClient.getRequestUrl builds the relative URL with: private in its typings, methods at run time. */
interface RouteBuilding {
  replaceRouteValues(routeTemplate: string, routeValues: Record<string, unknown>): string;
  queryParamsToString(queryParams: unknown): string;
}

export class DirectUrlVsoClient extends VsoClient {
  /**
   * The library's route helpers, and what url.resolve puts before an absolute path (the base URL's scheme and
   * authority, as the library writes them); undefined when either is missing, and then every URL is the library's.
   */
  private readonly direct: { readonly building: RouteBuilding; readonly origin: string } | undefined;

  constructor(baseUrl: string, restClient: RestClient) {
    super(baseUrl, restClient);
    const candidate = this as unknown as Partial<RouteBuilding>;
    const building = typeof candidate.replaceRouteValues === 'function' && typeof candidate.queryParamsToString === 'function' ? (candidate as RouteBuilding) : undefined;
    // The origin is asked of the library itself, so that it is exactly its spelling (case, port, credentials).
    const path = typeof this.basePath === 'string' ? join(this.basePath, 'x') : '';
    const resolved = building && copiedUnchanged.test(path) ? super.getRequestUrl('x', '', '', {}) : undefined;
    this.direct = building && resolved?.endsWith(path) ? { building, origin: resolved.slice(0, -path.length) } : undefined;
  }

  // The library's types say `any` for both; these are what getVersioningData passes.
  protected override getRequestUrl(routeTemplate: string, area: string, resource: string, routeValues: Record<string, unknown> | undefined, queryParams?: unknown): string {
    if (!this.direct) return super.getRequestUrl(routeTemplate, area, resource, routeValues, queryParams);
    const { building, origin } = this.direct;
    // VsoClient.getRequestUrl up to its url.resolve, step for step.
    const values = routeValues ?? {};
    if (!values.area) values.area = area;
    if (!values.resource) values.resource = resource;
    let relativeUrl = building.replaceRouteValues.call(this, routeTemplate, values);
    if (queryParams) relativeUrl += building.queryParamsToString.call(this, queryParams);
    const path = join(this.basePath, relativeUrl);
    return copiedUnchanged.test(path) ? origin + path : super.getRequestUrl(routeTemplate, area, resource, values, queryParams);
  }
}

/** The part of an azure-devops-node-api client (ClientApiBase) that builds its request URLs. */
export interface VsoApi {
  vsoClient: VsoClient;
}

/** Gives each API client a DirectUrlVsoClient on the same base URL and RestClient, before its first request. */
export function resolveRequestUrlsDirectly(apis: readonly VsoApi[]): void {
  for (const api of apis) api.vsoClient = new DirectUrlVsoClient(api.vsoClient.baseUrl, api.vsoClient.restClient);
}
