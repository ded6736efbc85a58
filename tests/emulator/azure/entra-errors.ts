// Entra ID's OAuth error answers, worded and shaped as login.microsoftonline.com sends them:
//   {"error":"invalid_client","error_description":"AADSTS700211: ... Trace ID: … Correlation ID: … Timestamp: …",
//    "error_codes":[700211],"timestamp":"2024-03-01 07:41:07Z","trace_id":"…","correlation_id":"…",
//    "error_uri":"https://login.microsoftonline.com/error?code=700211"}
// MSAL turns `error_description` into the message a client sees, so tests and users match on the AADSTS code.
import { randomUUID } from 'node:crypto';
import { header, HttpError, queryParam, type EmuRequest } from '../kernel/http';

export interface EntraErrorSpec {
  status: number;
  /** The OAuth error: invalid_request, invalid_client, unauthorized_client, invalid_scope, ... */
  error: string;
  /** The AADSTS number. */
  code: number;
  description: string;
}

/** Entra's timestamp format: `2024-03-01 07:41:07Z`. */
function entraTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** MSAL sends `client-request-id` (header and query); Entra echoes it as the correlation id. */
export function correlationIdOf(req: EmuRequest | undefined): string {
  return (req && (header(req, 'client-request-id') ?? queryParam(req, 'client-request-id'))) || randomUUID();
}

export function entraErrorBody(spec: EntraErrorSpec, correlationId: string = randomUUID()): Record<string, unknown> {
  const traceId = randomUUID();
  const timestamp = entraTimestamp(new Date());
  return {
    error: spec.error,
    error_description: `AADSTS${spec.code}: ${spec.description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [spec.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${spec.code}`,
  };
}

export function entraError(req: EmuRequest, spec: EntraErrorSpec): HttpError {
  const body = entraErrorBody(spec, correlationIdOf(req));
  return new HttpError(spec.status, body, { 'x-ms-request-id': String(body.trace_id), 'cache-control': 'no-store, no-cache' });
}

/**
 * The shape the kernel uses for injected faults on Entra routes. A fault's `code` may name an AADSTS
 * number (`AADSTS50000`); otherwise the status picks a plausible one (throttling 90055, server 50000).
 */
export function entraErrorShape(status: number, code: string, message: string): unknown {
  const explicit = /^AADSTS(\d+)$/i.exec(code);
  const number = explicit ? Number(explicit[1]) : status === 429 ? 90055 : status >= 500 ? 50000 : 900144;
  const error = status === 429 || status >= 500 ? 'temporarily_unavailable' : status === 401 ? 'invalid_client' : 'invalid_request';
  return entraErrorBody({ status, error, code: number, description: message });
}
