#!/usr/bin/env bash
# explain-sign-in-failure.sh: runs after a failed smoke-test step. When AzureCLI@2 cannot sign in with
# the connection it fails before smoke-test.sh starts, so the only evidence is the AADSTS code in that
# step's log; this prints what each code usually means for a connection this pipeline provisioned.
# (When smoke-test.sh did run, it already named the cause; this adds the same table for reference.)
set -euo pipefail

connection="${MIC_CONNECTION:-the connection}"
client_id="${MIC_EXPECTED_CLIENT_ID:-its identity}"
message="The smoke test of '${connection}' (identity client id ${client_id}) failed. If the Azure CLI step could not sign in, look for the AADSTS code in its log."
if [ -n "${TF_BUILD:-}" ]; then echo "##vso[task.logissue type=error]${message}"; fi
cat <<EOF2
${message}

  AADSTS70021    No federated credential matches the connection's token. Right after provisioning this is
                 usually Entra ID still propagating the new credential: rerun this job in a few minutes.
                 If it persists, the credential's issuer or subject differs from the connection's: run the
                 pipeline with mode provision to rewrite it from the connection.
  AADSTS700211   Issuer mismatch: the credential trusts another issuer than the connection's (Azure DevOps
                 moves connections from https://vstoken.dev.azure.com to the Entra ID issuer). Run provision.
  AADSTS700213   Subject mismatch: the subject embeds the connection's id, so a recreated connection needs
                 a new credential. Run provision.
  AADSTS7002138  The credential matches only when case is ignored; Entra ID compares case-sensitively.
  AADSTS70025    The identity has no federated credentials Entra ID can see: right after provisioning, its
                 first credential is usually still propagating (rerun this job in a few minutes); else run
                 provision.
  AADSTS700016   Wrong credential: no identity with this client id in the tenant (the connection's Service
                 Principal Id is not the identity's client id, or the identity was deleted). Run provision.
  AADSTS700024   The federated token expired before it was used.
  "subscription ... doesn't exist" / AuthorizationFailed
                 Missing role: the identity holds no role in the connection's subscription or resource
                 group yet (Azure RBAC can take minutes to replicate), or the declared role is missing.
EOF2
exit 0
