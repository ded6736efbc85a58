// ARM list paging: `{value, nextLink}` where nextLink is an absolute URL on the host the client called,
// carrying an opaque `$skiptoken`. SDK pagers follow nextLink as given, so it must keep api-version.
import { queryParam, type EmuRequest } from '../kernel/http';
import { armError } from './arm-errors';

interface SkipToken {
  offset: number;
}

function readSkipToken(req: EmuRequest): number {
  const raw = queryParam(req, '$skiptoken');
  if (raw === undefined) return 0;
  try {
    const token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as SkipToken;
    if (Number.isInteger(token.offset) && token.offset >= 0) return token.offset;
  } catch {
    // fall through to the error below
  }
  throw armError(400, 'InvalidSkipToken', `The skip token '${raw}' is not valid.`);
}

function readTop(req: EmuRequest, defaultTop: number): number {
  const raw = queryParam(req, '$top');
  if (raw === undefined) return defaultTop;
  const top = Number(raw);
  if (!Number.isInteger(top) || top < 1) throw armError(400, 'InvalidTopParameter', `The value '${raw}' of the $top query parameter is not valid. It must be a positive integer.`);
  return top;
}

function nextLinkFor(req: EmuRequest, linkPath: string, offset: number): string {
  const pairs: Array<[string, string]> = [...req.query].filter(([key]) => key.toLowerCase() !== '$skiptoken');
  pairs.push(['$skiptoken', Buffer.from(JSON.stringify({ offset } satisfies SkipToken)).toString('base64url')]);
  // `$` stays literal in parameter names, as ARM writes them.
  const query = pairs.map(([key, value]) => `${encodeURIComponent(key).replace(/%24/g, '$')}=${encodeURIComponent(value)}`).join('&');
  const path = linkPath.split('/').map(encodeURIComponent).join('/');
  return `${req.origin}${path}?${query}`;
}

/**
 * One page of `items` per `$top` (default `defaultTop`) and `$skiptoken`. `linkPath` is the collection's
 * path as the resource provider spells it in nextLink (the request's path when absent).
 */
export function page<T>(req: EmuRequest, items: readonly T[], defaultTop: number, linkPath = req.path): { value: T[]; nextLink?: string } {
  const offset = readSkipToken(req);
  const top = readTop(req, defaultTop);
  const value = items.slice(offset, offset + top);
  return offset + top < items.length ? { value, nextLink: nextLinkFor(req, linkPath, offset + top) } : { value };
}
