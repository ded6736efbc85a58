// Everything that needs the Azure SDKs or MSAL, behind one module boundary.
//
// The bundled task ships this module as a second file, azure-sdk.js, beside index.js (scripts/build.mjs):
// about half of the task's code is the Azure SDKs and MSAL, and Node compiles a file as a whole when it
// loads it. Kept apart, they are compiled only when the first Azure call needs them, after the first
// requests are on their way (on-first-use.ts), instead of before the task can send anything.
export { ArmIdentityClient, ArmRoleClient } from './arm-clients';
export { azureCliCredential, pipelineCredential } from './credentials';
export { GraphDirectoryClient } from './graph-client';
export { devOpsTransport } from './http-client';
