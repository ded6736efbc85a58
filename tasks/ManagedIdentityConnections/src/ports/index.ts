// Everything the core talks to. The composition root (lead) builds one of these; tests build fakes.
import type { IdentityClient, RoleClient } from './azure';
import type { DevOpsClient } from './devops';
import type { DirectoryClient } from './directory';
import type { Platform } from './platform';

export type * from './azure';
export type * from './devops';
export type * from './directory';
export type * from './platform';

export interface Ports {
  readonly platform: Platform;
  readonly identities: IdentityClient;
  readonly roles: RoleClient;
  readonly devOps: DevOpsClient;
  /** Microsoft Graph, for the convert command; built only when a run needs it. */
  readonly directory?: DirectoryClient;
}
