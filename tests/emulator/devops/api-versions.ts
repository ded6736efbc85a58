// The api-version rules every Azure DevOps resource applies, per resource location:
// - the version comes from `?api-version=` or from the Accept header (`application/json;api-version=7.2-preview.4`,
//   which is how azure-devops-node-api sends it);
// - writes without a version are refused, reads get the released version;
// - a version above the released one must say `-preview`, and nothing above the maximum is served.
// The same `ApiLocation` records are what `OPTIONS {org}/_apis/{area}` returns, so a client negotiating
// against the location data and the route enforcing it can never disagree.
import { adoError } from './ado-errors';
import { header, queryParam, type EmuRequest } from '../kernel/http';

export interface ApiLocation {
  id: string;
  area: string;
  resourceName: string;
  routeTemplate: string;
  resourceVersion: number;
  minVersion: string;
  maxVersion: string;
  /** "0.0" for resources that exist only as previews (pipelinePermissions). */
  releasedVersion: string;
}

export interface RequestedVersion {
  text: string;
  version: number;
  preview: boolean;
}

const VERSION_PATTERN = /^(\d+\.\d+)(-preview(\.\d+)?)?$/i;

export function requestedApiVersion(req: EmuRequest): string | undefined {
  const fromQuery = queryParam(req, 'api-version');
  if (fromQuery) return fromQuery.trim();
  const accept = header(req, 'accept') ?? '';
  const match = /api-version\s*=\s*([^;,\s]+)/i.exec(accept);
  return match ? match[1] : undefined;
}

/** Checks the request's api-version against the location; answers the version the handler works with. */
export function negotiateApiVersion(req: EmuRequest, location: ApiLocation): RequestedVersion {
  const text = requestedApiVersion(req);
  const released = Number(location.releasedVersion);
  const max = Number(location.maxVersion);
  if (!text) {
    if (['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      return released > 0 ? { text: location.releasedVersion, version: released, preview: false } : { text: `${location.maxVersion}-preview`, version: max, preview: true };
    }
    throw adoError(
      400,
      'VssVersionNotSpecifiedException',
      `No api-version was supplied for the ${req.method} request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. '?api-version=1.0').`,
    );
  }
  const match = VERSION_PATTERN.exec(text);
  if (!match) throw adoError(400, 'VssInvalidApiVersionException', `The api-version '${text}' is not valid. Use a version such as '${location.maxVersion}' or '${location.maxVersion}-preview.${location.resourceVersion}'.`);
  const version = Number(match[1]);
  const preview = match[2] !== undefined;
  if (version > max) {
    throw adoError(
      400,
      'VssVersionOutOfRangeException',
      `The requested REST API version of ${match[1]} is out of range for this server. The latest REST API version this server supports is ${location.maxVersion}.`,
    );
  }
  if (version < Number(location.minVersion)) {
    throw adoError(
      400,
      'VssVersionOutOfRangeException',
      `The requested REST API version of ${match[1]} is out of range for this resource. The earliest REST API version this resource supports is ${location.minVersion}.`,
    );
  }
  if (!preview && version > released) {
    throw adoError(
      400,
      'VssInvalidPreviewVersionException',
      `The requested version "${match[1]}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${match[1]}-preview"`,
    );
  }
  return { text, version, preview };
}
