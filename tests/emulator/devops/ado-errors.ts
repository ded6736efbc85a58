// Azure DevOps answers every failure with one JSON shape, whatever the area:
//   {"$id":"1","innerException":null,"message":…,"typeName":…,"typeKey":…,"errorCode":0,"eventId":3000}
// Clients key on `message` (typed-rest-client copies it into Error.message) and sometimes on `typeKey`, so
// both come from here. Type names are the .NET exception types the service is known to report; the few
// we could not confirm are marked [U] in docs/emulator.md ("Unverified choices").
import { randomUUID } from 'node:crypto';
import { HttpError } from '../kernel/http';

const TYPE_NAMES: Record<string, string> = {
  ServiceEndpointException: 'Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi.ServiceEndpointException, Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi',
  ServiceEndpointNotFoundException: 'Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi.ServiceEndpointNotFoundException, Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi',
  AccessCheckException: 'Microsoft.VisualStudio.Services.Security.AccessCheckException, Microsoft.VisualStudio.Services.WebApi',
  UnauthorizedRequestException: 'Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server',
  ProjectDoesNotExistWithNameException: 'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi',
  ProjectDoesNotExistException: 'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistException, Microsoft.TeamFoundation.Core.WebApi',
  VssVersionNotSpecifiedException: 'Microsoft.VisualStudio.Services.WebApi.VssVersionNotSpecifiedException, Microsoft.VisualStudio.Services.WebApi',
  VssInvalidPreviewVersionException: 'Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi',
  VssVersionOutOfRangeException: 'Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, Microsoft.VisualStudio.Services.WebApi',
  VssRequestContentTypeNotSupportedException: 'Microsoft.VisualStudio.Services.WebApi.VssRequestContentTypeNotSupportedException, Microsoft.VisualStudio.Services.WebApi',
  ArgumentException: 'System.ArgumentException, mscorlib',
  ArgumentNullException: 'System.ArgumentNullException, mscorlib',
  PipelineValidationException: 'Microsoft.TeamFoundation.DistributedTask.Pipelines.PipelineValidationException, Microsoft.TeamFoundation.DistributedTask.WebApi',
  DefinitionNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.DefinitionNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  BuildNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.BuildNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  OrganizationNotFoundException: 'Microsoft.VisualStudio.Services.Organization.OrganizationNotFoundException, Microsoft.VisualStudio.Services.WebApi',
  ResourceNotFoundException: 'Microsoft.TeamFoundation.DistributedTask.WebApi.ResourceNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi',
};

export interface AdoErrorBody {
  $id: '1';
  innerException: null;
  message: string;
  typeName: string;
  typeKey: string;
  errorCode: 0;
  eventId: 3000;
}

export function adoErrorBody(typeKey: string, message: string): AdoErrorBody {
  return {
    $id: '1',
    innerException: null,
    message,
    typeName: TYPE_NAMES[typeKey] ?? `Microsoft.VisualStudio.Services.WebApi.${typeKey}, Microsoft.VisualStudio.Services.WebApi`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  };
}

/** An error to throw from a handler; the router turns it into the response. */
export function adoError(status: number, typeKey: string, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, adoErrorBody(typeKey, message), { activityid: randomUUID(), ...headers });
}

export function badRequest(message: string, typeKey = 'ServiceEndpointException'): HttpError {
  return adoError(400, typeKey, message);
}

/** The kernel's error shape for `devops`: injected faults and unmatched routes answer like the service. */
export function devopsErrorShape(status: number, code: string, message: string): AdoErrorBody {
  void status;
  return adoErrorBody(code, message);
}
