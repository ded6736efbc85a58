// Two runs at once (or a person in the portal) may create the same connection between our look-up and our
// create: Azure DevOps then refuses the second create with "Service connection with name … already exists".
// The connection we wanted exists; if it points at the same identity in the same tenant it is ours to adopt
// (the spec asks for exactly it), otherwise it is someone else's and the run must say so with a code.
import { TaskError } from '../errors';
import type { ConnectionDefinition, ServiceConnection } from '../ports/devops';
import type { ServiceFailure } from './service-failure';

/** Azure DevOps' answer to a create whose name is taken in the project (400, ServiceEndpointException). */
export function isNameTaken(failure: ServiceFailure): boolean {
  return failure.statusCode === 400 && /Service connection with name .* already exists/i.test(failure.message);
}

const same = (a: string | undefined, b: string | undefined): boolean => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** The connection to adopt, or the coded error saying why it is not ours. */
export function adoptConcurrentlyCreated(found: ServiceConnection | undefined, definition: ConnectionDefinition, refusal: string): ServiceConnection {
  if (found === undefined) {
    throw new TaskError('MIC420', `Service connection ${definition.name} was created by someone else while the task ran, and the identity running the task cannot see it: ${refusal}`);
  }
  if (found.readerStub) {
    throw new TaskError('MIC422', `Service connection ${definition.name} was created by someone else while the task ran; the identity running the task has only the Reader role on it and needs Administrator.`);
  }
  if (same(found.type, 'azurerm') && same(found.clientId, definition.clientId) && same(found.tenantId, definition.tenantId)) return found;
  throw new TaskError(
    'MIC420',
    `Service connection ${definition.name} was created by someone else while the task ran, for ${found.type || 'another type'} with client id ${found.clientId ?? '(none)'} in tenant ${found.tenantId ?? '(none)'}; the spec wants client id ${definition.clientId} in tenant ${definition.tenantId}. It is left untouched.`,
  );
}
