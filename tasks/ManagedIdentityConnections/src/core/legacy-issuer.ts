// The task asks Azure DevOps for the Entra issuer when it creates a connection, but an organization may still
// put new connections on the Azure DevOps (vstoken) issuer, which is deprecated and retires on 2027-07-01
// (Azure DevOps release notes, sprint 276; learn.microsoft.com …/convert-service-connections). Such a
// connection works today and stops working then: a warning with a code, not a failure.
import { problem } from '../errors';
import type { ApplyResult, Finding } from './model';
import { guidRule } from './names';

export const LEGACY_ISSUER_RETIREMENT = '2027-07-01';

/**
 * The Azure DevOps issuer's hosts: `vstoken.dev.azure.com` since general availability
 * (`https://vstoken.dev.azure.com/{organization id}`, microsoft/azure-pipelines-tasks
 * docs/service-connections/azure-oidc/manual-configuration.md), and `app.vstoken.visualstudio.com`, which the
 * preview gave (its troubleshooting FAQ: "The issuer URL is https://app.vstoken.visualstudio.com … In an upcoming
 * change this will be expanded to include an Azure DevOps specific identifier"). [U] whether any connection still
 * carries the preview's; both retire with the Azure DevOps issuer.
 */
const legacyIssuerPattern = /^https:\/\/(?:vstoken\.dev\.azure\.com|app\.vstoken\.visualstudio\.com)(?:\/([^/]*))?\/?$/i;

/** The Azure DevOps issuer, `https://vstoken.dev.azure.com/{org}` (or the preview's host). */
export function isLegacyIssuer(issuer: string | undefined): boolean {
  return legacyIssuerPattern.test(issuer ?? '');
}

/** The organization id a legacy issuer names (`https://vstoken.dev.azure.com/{organization id}`), lowercase. */
export function legacyIssuerOrganization(issuer: string | undefined): string | undefined {
  const segment = legacyIssuerPattern.exec(issuer ?? '')?.[1];
  return segment !== undefined && guidRule.pattern.test(segment) ? segment.toLowerCase() : undefined;
}

/** The legacy issuer, or the issuer type Azure DevOps gives the legacy format. */
function isLegacyConnection(issuer: string | undefined, issuerType: string | undefined): boolean {
  return isLegacyIssuer(issuer) || /^(DevOps|AzureDevOps)$/i.test(issuerType ?? '');
}

/** MIC421 for every connection this run created that came back on the legacy issuer. */
export function legacyIssuerWarnings(applied: ApplyResult): Finding[] {
  const warnings: Finding[] = [];
  for (const environment of applied.environments) {
    for (const outcome of environment.actions) {
      if (outcome.action.kind !== 'createConnection' || outcome.status !== 'succeeded') continue;
      const connection = environment.connections.get(outcome.action.connectionName);
      if (!connection || !isLegacyConnection(connection.issuer, connection.issuerType)) continue;
      warnings.push({
        severity: 'warning',
        connection: connection.name,
        ...problem(
          'MIC421',
          `Service connection ${connection.name} was created on the Azure DevOps issuer (${connection.issuer}) although the task asked for the Entra issuer; that issuer retires on ${LEGACY_ISSUER_RETIREMENT}.`,
          { environment: environment.environment },
        ),
      });
    }
  }
  return warnings;
}
