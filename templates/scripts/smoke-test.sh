#!/usr/bin/env bash
# smoke-test.sh: prove that the Azure CLI, signed in with a workload identity federation service
# connection, is the managed identity the environments spec declares, sees the connection's
# subscription, can read its resource group, and holds the declared roles.
#
# Where it runs: inside AzureCLI@2 with the connection (already signed in; `addSpnToEnvironment: true`
# exports servicePrincipalId, idToken and tenantId, used here for diagnostics). When it is not signed
# in and those three variables are set, it signs in first exactly as AzureCLI@2 does, which is how it
# runs anywhere else (a shell, a test). Nothing here depends on where it runs.
#
# Every failure names its usual cause, because the three things that go wrong after provisioning look
# alike from the outside: Entra ID still propagating a new federated credential (AADSTS70021 for a few
# minutes, or AADSTS70025 while it is the identity's only one), a federated credential whose issuer or subject differs from the connection's, and a role
# that is missing or not yet replicated.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: smoke-test.sh [options]   (each option can also be given by the environment variable shown)

  --subscription-id GUID    MIC_EXPECTED_SUBSCRIPTION_ID  the connection's subscription (required, unless the
                                                          environments output below has it)
  --client-id GUID          MIC_EXPECTED_CLIENT_ID        the identity's client id (required)
  --tenant-id GUID          MIC_EXPECTED_TENANT_ID        the identity's tenant (optional)
  --resource-group NAME     MIC_EXPECTED_RESOURCE_GROUP   a resource group the identity must read (optional)
  --roles JSON              MIC_DECLARED_ROLES            declared roles, [{"role":..,"scope":..}] (optional)
  --connection NAME         MIC_CONNECTION                the connection's name, for messages (optional)
  --environments-output JSON MIC_ENVIRONMENTS_OUTPUT      the task's `environments` output variable, and
  --environment NAME        MIC_ENVIRONMENT               the environment to read from it: fills in the
                                                          client id and tenant, and with --connection the
                                                          subscription and resource group (defaults of the
                                                          spec applied), when not given (optional)
  --sign-in-timeout SECONDS MIC_SIGN_IN_TIMEOUT_SECONDS   when signing in itself: keep retrying AADSTS70021/70025
                                                          (a credential still propagating) this long (default 0)
  --sign-in-interval SECONDS MIC_SIGN_IN_INTERVAL_SECONDS  pause between those retries (default 10)
  -h, --help

Exit status: 0 every check passed, 1 a check failed (the message names the usual cause), 2 bad usage.
Needs: az (Azure CLI 2.45 or later), python3 (to read JSON and token claims).
EOF
}

expected_subscription="${MIC_EXPECTED_SUBSCRIPTION_ID:-}"
expected_client_id="${MIC_EXPECTED_CLIENT_ID:-}"
expected_tenant="${MIC_EXPECTED_TENANT_ID:-}"
expected_resource_group="${MIC_EXPECTED_RESOURCE_GROUP:-}"
declared_roles="${MIC_DECLARED_ROLES:-}"
connection="${MIC_CONNECTION:-}"
environments_output="${MIC_ENVIRONMENTS_OUTPUT:-}"
environment="${MIC_ENVIRONMENT:-}"
sign_in_timeout="${MIC_SIGN_IN_TIMEOUT_SECONDS:-0}"
sign_in_interval="${MIC_SIGN_IN_INTERVAL_SECONDS:-10}"

bad_usage() {
  echo "smoke-test.sh: $1" >&2
  echo "Run smoke-test.sh --help for the options." >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --subscription-id) expected_subscription="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --client-id) expected_client_id="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --tenant-id) expected_tenant="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --resource-group) expected_resource_group="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --roles) declared_roles="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --connection) connection="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --environments-output) environments_output="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --environment) environment="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --sign-in-timeout) sign_in_timeout="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    --sign-in-interval) sign_in_interval="${2-}"; shift 2 || bad_usage "$1 needs a value" ;;
    -h | --help) usage; exit 0 ;;
    *) bad_usage "unknown option '$1'" ;;
  esac
done

command -v python3 >/dev/null || bad_usage "python3 is not on PATH (it reads the JSON answers and token claims)"

# The task's `environments` output: {"<environment>": {"identity": {"clientId", "tenantId", …}, "connections":
# {"<connection>": {"id", "subscriptionId", "resourceGroup"}}}, …}. The task resolved the spec's defaults, so a
# connection relying on defaults.subscriptionId has its subscription here, and nowhere in the spec text.
if [ -n "$environments_output" ] && [ -n "$environment" ]; then
  from_output() { # from_output identity|connection FIELD
    printf '%s' "$environments_output" | MIC_PART="$1" MIC_FIELD="$2" MIC_ENVIRONMENT="$environment" MIC_CONNECTION_NAME="$connection" python3 -c 'import json,os,sys
try:
    d=json.load(sys.stdin)
except ValueError:
    sys.exit(3)
e=d.get(os.environ["MIC_ENVIRONMENT"]) or {}
p=e.get("identity") if os.environ["MIC_PART"]=="identity" else (e.get("connections") or {}).get(os.environ["MIC_CONNECTION_NAME"])
v=(p or {}).get(os.environ["MIC_FIELD"])
print(v or "")' || bad_usage "--environments-output is not the task's environments JSON"
  }
  [ -n "$expected_client_id" ] || expected_client_id="$(from_output identity clientId)"
  [ -n "$expected_tenant" ] || expected_tenant="$(from_output identity tenantId)"
  if [ -n "$connection" ]; then
    [ -n "$expected_subscription" ] || expected_subscription="$(from_output connection subscriptionId)"
    [ -n "$expected_resource_group" ] || expected_resource_group="$(from_output connection resourceGroup)"
  fi
fi

guid_pattern='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
[[ "$expected_subscription" =~ $guid_pattern ]] || bad_usage "--subscription-id must be a GUID, got '${expected_subscription}' (the task's environments output has it, with --connection)"
[[ "$expected_client_id" =~ $guid_pattern ]] || bad_usage "--client-id must be a GUID, got '${expected_client_id}' (the task's environments output has it)"
[ -z "$expected_tenant" ] || [[ "$expected_tenant" =~ $guid_pattern ]] || bad_usage "--tenant-id must be a GUID, got '${expected_tenant}'"
[[ "$sign_in_timeout" =~ ^[0-9]+$ ]] || bad_usage "--sign-in-timeout must be whole seconds"
[[ "$sign_in_interval" =~ ^[0-9]+$ ]] || bad_usage "--sign-in-interval must be whole seconds"
command -v az >/dev/null || bad_usage "the Azure CLI (az) is not on PATH"

# Lower-case GUIDs once: Azure echoes them in either case.
lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }
expected_subscription="$(lower "$expected_subscription")"
expected_client_id="$(lower "$expected_client_id")"
expected_tenant="$(lower "$expected_tenant")"
label="connection '${connection:-?}' (identity client id ${expected_client_id})"

failures=0
in_pipeline() { [ -n "${TF_BUILD:-}" ]; }
report() { # report LEVEL MESSAGE: Azure Pipelines shows logissue lines in the run summary.
  if in_pipeline; then echo "##vso[task.logissue type=$1]$2"; fi
  echo "$1: $2" >&2
}
fail() { report error "$1"; failures=$((failures + 1)); }
ok() { echo "ok: $1"; }

# JSON and token helpers. Inputs travel on stdin, never as arguments, so no token shows in `ps`.
json_field() { # json_field PYTHON_EXPRESSION < JSON: prints the expression over `d`, '' for None
  python3 -c 'import json,sys
d=json.load(sys.stdin)
v=eval(sys.argv[1])
print("" if v is None else v)' "$1"
}
token_claim() { # token_claim NAME... < JWT: prints each claim of the JWT's payload on its own line ('' when absent)
  python3 -c 'import base64,json,sys
t=sys.stdin.read().strip().split(".")
try:
    c=json.loads(base64.urlsafe_b64decode(t[1]+"="*(-len(t[1])%4)))
except Exception:
    c={}
for name in sys.argv[1:]:
    v=c.get(name) or ""
    print((" ".join(map(str,v)) if isinstance(v,list) else str(v)).replace("\n"," "))' "$@"
}

# What the connection's federated token says, when AzureCLI@2 (or the caller) provided it. Issuer and
# subject are not secret; printing them is what makes a mismatch visible.
token_issuer="" token_subject="" token_audience=""
if [ -n "${idToken:-}" ]; then
  { read -r token_issuer; read -r token_subject; read -r token_audience; } < <(printf '%s' "$idToken" | token_claim iss sub aud) || true
  echo "The connection's federated token: issuer '${token_issuer}', subject '${token_subject}', audience '${token_audience}'."
fi

explain_sign_in_failure() { # explain_sign_in_failure AZ_STDERR
  local output="$1" code
  code="$(printf '%s' "$output" | grep -oE 'AADSTS[0-9]+' | head -n 1 || true)"
  local seen="issuer '${token_issuer:-?}', subject '${token_subject:-?}'"
  case "$code" in
    AADSTS700211)
      fail "Issuer mismatch: no federated credential on the identity (client id ${servicePrincipalId:-?}) trusts the issuer of the connection's token (${seen}). The connection's issuer changed (Azure DevOps moves connections from https://vstoken.dev.azure.com to the Entra ID issuer) or the credential was written for another issuer: run the pipeline with mode provision to rewrite it from the connection." ;;
    AADSTS700213)
      fail "Subject mismatch: no federated credential on the identity (client id ${servicePrincipalId:-?}) has the subject of the connection's token (${seen}). The subject embeds the connection's id, so a deleted and recreated connection needs a new credential: run the pipeline with mode provision." ;;
    AADSTS7002138)
      fail "Case mismatch: a federated credential matches the connection's token (${seen}) only when case is ignored, and Entra ID compares case-sensitively. Run the pipeline with mode provision to rewrite the credential from the connection." ;;
    AADSTS70025)
      fail "The identity (client id ${servicePrincipalId:-?}) has no federated credentials at all, as far as Entra ID can see. If the connection was provisioned minutes ago, Entra ID is probably still propagating its first credential: run this job again in a few minutes. If it persists: run the pipeline with mode provision." ;;
    AADSTS70021)
      fail "No federated credential on the identity (client id ${servicePrincipalId:-?}) matches the connection's token (${seen}). If the connection was provisioned minutes ago, Entra ID is probably still propagating the credential: run this job again in a few minutes. If it persists, the credential's issuer or subject differs from the connection's: run the pipeline with mode provision to repair it." ;;
    AADSTS700016)
      fail "Wrong credential: tenant ${tenantId:-?} has no identity with client id ${servicePrincipalId:-?}. The connection's Service Principal Id is not the managed identity's client id, or the identity was deleted: run the pipeline with mode provision." ;;
    AADSTS700024)
      fail "The connection's federated token has expired (or is not yet valid) (${seen}): sign in again at the start of the step." ;;
    AADSTS90002 | AADSTS900023)
      fail "Tenant '${tenantId:-?}' was not found: the connection's tenant id is wrong." ;;
    *)
      fail "Signing in with the connection failed${code:+ ($code)}: $(printf '%s' "$output" | tr '\n' ' ' | cut -c 1-600)" ;;
  esac
}

signed_in_here=0
sign_in_if_needed() {
  if az account show --output none 2>/dev/null; then
    return 0
  fi
  signed_in_here=1
  if [ -z "${servicePrincipalId:-}" ] || [ -z "${idToken:-}" ] || [ -z "${tenantId:-}" ]; then
    fail "The Azure CLI is not signed in, and servicePrincipalId, idToken and tenantId are not set: run this script in AzureCLI@2 with addSpnToEnvironment: true."
    return 1
  fi
  local started now output propagating
  started="$(date +%s)"
  while true; do
    # The same command AzureCLI@2 runs for a workload identity federation connection.
    if output="$(az login --service-principal -u "$servicePrincipalId" --tenant "$tenantId" --allow-no-subscriptions \
      --federated-token "$idToken" --output none 2>&1)"; then
      ok "signed in with the connection's federated token"
      return 0
    fi
    now="$(date +%s)"
    # AADSTS70025 ("no configured federated identity credentials") is what Entra ID answers while an
    # identity's first and only credential propagates.
    propagating="$(printf '%s' "$output" | grep -oE 'AADSTS700(21|25)\b' | head -n 1 || true)"
    if [ -n "$propagating" ] && [ $((now - started + sign_in_interval)) -le "$sign_in_timeout" ]; then
      echo "${propagating}: the federated credential may still be propagating; retrying in ${sign_in_interval}s."
      sleep "$sign_in_interval"
      continue
    fi
    explain_sign_in_failure "$output"
    return 1
  done
}

finish() {
  if [ "$failures" -gt 0 ]; then
    echo "Smoke test of ${label} failed: ${failures} problem(s), see above." >&2
    exit 1
  fi
  echo "Smoke test of ${label} passed."
  exit 0
}

sign_in_if_needed || finish

# 1. Who are we signed in as? AzureCLI@2 has selected the connection's subscription, which must be the
#    declared one. Signed in here, there is no connection to take it from, so select the declared one:
#    that fails when the identity holds no role anywhere in the subscription.
if [ "$signed_in_here" = 1 ] && ! output="$(az account set --subscription "$expected_subscription" 2>&1)"; then
  fail "The identity sees no subscription ${expected_subscription}: it holds no role in it (the declared roles are missing, or were assigned minutes ago and Azure RBAC has not replicated them yet), or the connection names another subscription. (${output//$'\n'/ })"
  finish
fi
account="$(az account show --output json)"
signed_tenant="$(lower "$(printf '%s' "$account" | json_field 'd.get("tenantId")')")"
signed_subscription="$(lower "$(printf '%s' "$account" | json_field 'd.get("id")')")"
signed_user="$(lower "$(printf '%s' "$account" | json_field '(d.get("user") or {}).get("name")')")"
signed_user_type="$(printf '%s' "$account" | json_field '(d.get("user") or {}).get("type")')"

if [ "$signed_user_type" != "servicePrincipal" ]; then
  fail "Signed in as a ${signed_user_type:-unknown} account, not a service principal: this is not a workload identity federation service connection."
elif [ "$signed_user" != "$expected_client_id" ]; then
  fail "Wrong identity: signed in as client id ${signed_user}, but the environment's identity has client id ${expected_client_id}. The connection's Service Principal Id points at another identity (edited by hand, or a name reused across environments): run the pipeline with mode provision."
else
  ok "signed in as the identity (client id ${signed_user})"
fi
if [ -n "$expected_tenant" ] && [ "$signed_tenant" != "$expected_tenant" ]; then
  fail "Wrong tenant: signed in to tenant ${signed_tenant}, but the identity lives in tenant ${expected_tenant}: the connection's tenant id is wrong."
elif [ -n "$expected_tenant" ]; then
  ok "tenant ${signed_tenant}"
fi
if [ "$signed_subscription" != "$expected_subscription" ]; then
  fail "Wrong subscription: the connection selects subscription ${signed_subscription}, but the spec declares ${expected_subscription}."
else
  ok "subscription ${signed_subscription}"
fi

# 2. The connection's resource group is readable (a resource-group-scoped connection is useless without it).
if [ -n "$expected_resource_group" ]; then
  if output="$(az group show --name "$expected_resource_group" --subscription "$expected_subscription" --output none 2>&1)"; then
    ok "resource group ${expected_resource_group} is readable"
  elif printf '%s' "$output" | grep -q 'ResourceGroupNotFound'; then
    fail "Resource group ${expected_resource_group} does not exist in subscription ${expected_subscription}."
  elif printf '%s' "$output" | grep -q 'AuthorizationFailed'; then
    fail "Missing role: the identity cannot read resource group ${expected_resource_group} (AuthorizationFailed). Its role there is missing, or was assigned minutes ago and Azure RBAC has not replicated it yet: run the pipeline with mode provision, or this job again in a few minutes."
  else
    fail "Reading resource group ${expected_resource_group} failed: ${output//$'\n'/ }"
  fi
fi

# 3. The declared roles within this subscription are assigned, each at its scope. The principal (object) id
#    comes from the access token's `oid` claim, not from a Microsoft Graph lookup, which a managed identity
#    usually has no permission for. Listing at each declared scope (not --all) needs only the read right a
#    resource-group-scoped role gives there. Roles in other subscriptions are checked by connections to those.
roles_python='
import json, os, re, sys
def norm(scope):
    return "/" + "/".join(s for s in (scope or "").split("/") if s).lower()
guid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
try:
    declared = json.loads(os.environ["MIC_ROLES"])
except ValueError as e:
    print("bad\t\tthe declared roles are not JSON: %s" % e); sys.exit(0)
if isinstance(declared, dict):
    declared = [declared]
subscription = norm("/subscriptions/" + os.environ["MIC_SUBSCRIPTION"])
if sys.argv[1] == "scopes":
    # One line per declared role: state, scope as written, role as written.
    for entry in declared:
        if not isinstance(entry, dict) or not entry.get("role") or not entry.get("scope"):
            print("bad\t\teach declared role needs role and scope, got %s" % json.dumps(entry)); continue
        scope = norm(entry["scope"])
        inside = scope == subscription or scope.startswith(subscription + "/")
        print("%s\t%s\t%s" % ("check" if inside else "skip", entry["scope"], entry["role"]))
else:
    # Is role sys.argv[2] among the assignments (JSON on stdin) at scope sys.argv[3]?
    role, scope = sys.argv[2], norm(sys.argv[3])
    def same_role(a):
        definition = (a.get("roleDefinitionId") or "").rstrip("/").split("/")[-1]
        if guid.match(role):
            return definition.lower() == role.lower()
        return (a.get("roleDefinitionName") or "").lower() == role.lower()
    print("yes" if any(norm(a.get("scope")) == scope and same_role(a) for a in json.load(sys.stdin)) else "no")
'
if [ -n "$declared_roles" ] && [ "$declared_roles" != "null" ] && [ "$declared_roles" != "[]" ]; then
  access_token="$(az account get-access-token --subscription "$expected_subscription" --query accessToken --output tsv)"
  principal_id="$(printf '%s' "$access_token" | token_claim oid)"
  unset access_token
  roles_plan="$(MIC_ROLES="$declared_roles" MIC_SUBSCRIPTION="$expected_subscription" python3 -c "$roles_python" scopes)"
  if [[ ! "$principal_id" =~ $guid_pattern ]]; then
    fail "The access token carries no object id (oid), so the role assignments cannot be looked up."
    roles_plan=""
  fi
  # One listing per scope, cached in files (not an associative array: macOS agents run bash 3.2).
  cache="$(mktemp -d)"
  while IFS=$'\t' read -r state scope role; do
    case "$state" in
      bad) fail "${role}" ; continue ;;
      skip) echo "not checked here: role ${role} at ${scope} (outside subscription ${expected_subscription}; the connection to that subscription checks it)"; continue ;;
      check) ;;
      *) continue ;;
    esac
    listing="${cache}/$(lower "$scope" | cksum | cut -d ' ' -f 1)"
    if [ ! -e "$listing" ] && [ ! -e "${listing}.failed" ]; then
      if ! az role assignment list --assignee "$principal_id" --scope "$scope" --output json >"$listing" 2>"${listing}.errors"; then
        mv "$listing" "${listing}.failed"
        error_text="$(tr '\n' ' ' <"${listing}.errors" | cut -c 1-600)"
        if printf '%s' "$error_text" | grep -q 'AuthorizationFailed'; then
          fail "Missing role: the identity cannot read the role assignments at ${scope} (AuthorizationFailed on Microsoft.Authorization/roleAssignments/read), so it holds no readable role there; a declared Reader or Contributor role would allow it. The role is missing or not yet replicated: run the pipeline with mode provision, or this job again in a few minutes."
        else
          fail "Listing the identity's role assignments at ${scope} failed: ${error_text}"
        fi
      fi
    fi
    [ -e "${listing}.failed" ] && continue
    if [ "$(MIC_ROLES="$declared_roles" MIC_SUBSCRIPTION="$expected_subscription" python3 -c "$roles_python" has "$role" "$scope" <"$listing")" = yes ]; then
      ok "role ${role} at ${scope}"
    else
      fail "Missing role: ${role} at ${scope} is declared but not assigned to the identity (object id ${principal_id}). Run the pipeline with mode provision; if it ran minutes ago, Azure RBAC may still be replicating the assignment."
    fi
  done <<<"$roles_plan"
  rm -rf "$cache"
fi

finish
