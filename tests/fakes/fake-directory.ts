// In-memory Microsoft Graph for the DirectoryClient port: app registrations' service principals by app id, and
// a switch for the bootstrap identity lacking directory read rights (Graph's 403, which the adapter turns into
// MIC442).
import { TaskError } from '../../tasks/ManagedIdentityConnections/src/errors';
import type { DirectoryClient, DirectoryServicePrincipal } from '../../tasks/ManagedIdentityConnections/src/ports/directory';
import type { CallLog } from './call-log';

export class FakeDirectory {
  readonly servicePrincipals = new Map<string, DirectoryServicePrincipal>();
  /** true: Graph answers 403 Authorization_RequestDenied, as for an identity without Application.Read.All. */
  denied = false;

  constructor(private readonly log: CallLog) {}

  addServicePrincipal(principal: DirectoryServicePrincipal): void {
    this.servicePrincipals.set(principal.appId.toLowerCase(), principal);
  }

  readonly client: DirectoryClient = {
    findServicePrincipal: (appId) =>
      this.log.record({ port: 'directory', method: 'findServicePrincipal', args: [appId], write: false, subject: appId }, () => {
        if (this.denied) throw new TaskError('MIC442', `Microsoft Graph refused to read the service principal of app ${appId} (Authorization_RequestDenied).`);
        const found = this.servicePrincipals.get(appId.toLowerCase());
        return found ? { ...found } : undefined;
      }),
  };
}
