// A user-assigned managed identity with one federated credential for one Azure DevOps service connection:
// the Bicep of the blog post this project started from, made complete and correct. It is for readers who
// want to do by hand, for one connection, what the ManagedIdentityConnections task does for many.
//
// Order matters: create the service connection first (workload identity federation, manual, saved as a
// draft), read its issuer and subject, then deploy this with them. The subject of a new connection embeds
// the connection's id, so it cannot be known before the connection exists (see README.md beside this file).
//
//   az deployment group create --resource-group rg-identities --template-file uai.bicep \
//     --parameters issuer='<issuer from the connection>' subjectIdentifier='<subject from the connection>'

@description('Name of the user-assigned managed identity.')
param uaiName string = 'id-ado-app-dev'

@description('Azure region of the identity.')
param location string = resourceGroup().location

@description('The connection\'s issuer, as Azure DevOps shows it: https://login.microsoftonline.com/<tenant id>/v2.0 (or https://vstoken.dev.azure.com/<organization id> for older connections).')
param issuer string

@description('The connection\'s subject identifier, as Azure DevOps shows it: /eid1/c/pub/t/…/a/…/sc/<organization id>/<connection id> (or sc://<organization>/<project>/<connection> for older connections).')
param subjectIdentifier string

@description('Name of the federated credential: 3 to 120 letters, digits, hyphens and underscores, starting with a letter or digit.')
@minLength(3)
@maxLength(120)
param federatedCredentialName string = 'azdo-app-dev'

resource userAssignedIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: uaiName
  location: location
}

// Entra ID accepts exactly one audience here, and for Azure DevOps it is always this value.
resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  name: federatedCredentialName
  parent: userAssignedIdentity
  properties: {
    issuer: issuer
    subject: subjectIdentifier
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

// What the service connection needs: the client id goes in its "Service Principal Id" field (not the
// principal id, which is what role assignments use).
output tenantId string = userAssignedIdentity.properties.tenantId
output clientId string = userAssignedIdentity.properties.clientId
output principalId string = userAssignedIdentity.properties.principalId
output subscriptionId string = subscription().subscriptionId
output subscriptionName string = subscription().displayName
