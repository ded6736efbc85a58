// ARM's error answers: `{"error":{"code","message"}}` with the codes and wording Azure Resource Manager
// and its resource providers use, so an SDK's RestError carries the same `code` and `statusCode`.
import { HttpError } from '../kernel/http';

export function armError(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { error: { code, message } }, headers);
}

export function armErrorShape(_status: number, code: string, message: string): unknown {
  return { error: { code, message } };
}

export function invalidRequestContent(detail: string): HttpError {
  return armError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${detail}'.`);
}

export function invalidSubscriptionId(subscriptionId: string): HttpError {
  return armError(400, 'InvalidSubscriptionId', `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`);
}

export function subscriptionNotFound(subscriptionId: string): HttpError {
  return armError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
}

export function resourceGroupNotFound(resourceGroup: string): HttpError {
  return armError(404, 'ResourceGroupNotFound', `Resource group '${resourceGroup}' could not be found.`);
}

export function resourceNotFound(type: string, name: string, resourceGroup: string): HttpError {
  return armError(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export function parentResourceNotFound(parentName: string): HttpError {
  return armError(404, 'ParentResourceNotFound', `Can not perform requested operation on nested resource. Parent resource '${parentName}' not found.`);
}

/** ARM's wording; `conditionNotFulfilled` switches to the text ARM uses when an ABAC condition refused. */
export function authorizationFailed(principalId: string, action: string, scope: string, conditionNotFulfilled: boolean): HttpError {
  const what = conditionNotFulfilled ? 'does not have authorization or an ABAC condition not fulfilled to perform action' : 'does not have authorization to perform action';
  return armError(
    403,
    'AuthorizationFailed',
    `The client '${principalId}' with object id '${principalId}' ${what} '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

/** ARM's `x-ms-ratelimit` headers count a subscription's buckets, or the tenant's for tenant-level calls. */
export function tooManyRequests(operation: 'reads' | 'writes' | 'deletes', retryAfterSeconds: number, headers: Record<string, string>): HttpError {
  const type = { reads: 'Read', writes: 'Write', deletes: 'Delete' }[operation];
  return armError(
    429,
    'TooManyRequests',
    `The request is being throttled as the limit has been reached for operation type - '${type}'. For more information, refer to - https://aka.ms/armthrottling`,
    { ...headers, 'retry-after': String(retryAfterSeconds) },
  );
}
