// Microsoft Graph, as the convert command needs it: the service principal behind an app (client) id, whose
// object id role assignments name. Reading the directory needs Application.Read.All or Directory.Read.All,
// which a bootstrap identity may lack; the adapter turns that denial into MIC442.

export interface DirectoryServicePrincipal {
  /** The service principal's object id (what role assignments name as principalId). */
  readonly objectId: string;
  readonly appId: string;
  readonly displayName: string;
}

export interface DirectoryClient {
  /** The tenant's service principal of this app id; undefined when there is none. */
  findServicePrincipal(appId: string): Promise<DirectoryServicePrincipal | undefined>;
}
