// What one running emulator's Azure module holds: the world, ARM's throttling buckets, the log of
// federated-credential writes in flight, and this module's settings. Tests start several emulators in
// one process, so nothing here may be module-global.
import type { EmulatorContext } from '../kernel/context';
import { TokenBuckets } from '../kernel/throttle';
import { AzureWorld } from './world';

export interface AzureSettings {
  /**
   * How long one federated-credential write or delete takes. A second write on the same identity that
   * overlaps it (counting from when it reached the emulator, injected latency included) gets ARM's 409.
   */
  ficWriteMs: number;
  /**
   * How long a new identity stays unknown to the federated-credential resource provider: a credential PUT
   * under it meanwhile answers 404 ParentResourceNotFound, as ARM does for up to minutes after the identity
   * was created (openshift/cloud-credential-operator#878, hashicorp/terraform-provider-azurerm#32179).
   */
  identityVisibilityMs: number;
  /**
   * What Entra answers when the identity's credentials are not a match for the assertion: `specific` names
   * the field (AADSTS700211 issuer, 700213 subject, 700212 audience); `generic` answers AADSTS70021 "No matching
   * federated identity record found" with the Assertion Issuer/Subject/Audience, as many public reports show
   * (MicrosoftDocs/azure-devops-docs#13644, Azure/login#515). Which one Entra picks when is not published [U].
   */
  mismatchError: 'specific' | 'generic';
}

export function defaultAzureSettings(): AzureSettings {
  return { ficWriteMs: 20, identityVisibilityMs: 0, mismatchError: 'specific' };
}

/** A write on one identity's federated credentials: from arrival until it completes (ms since epoch). */
export interface WriteWindow {
  from: number;
  until: number;
}

export class AzureRuntime {
  readonly world = new AzureWorld();
  readonly buckets = new TokenBuckets();
  /** Keyed by lowercase identity id. */
  readonly ficWrites = new Map<string, WriteWindow[]>();

  constructor(readonly ctx: EmulatorContext) {}

  get settings(): AzureSettings {
    return { ...defaultAzureSettings(), ...((this.ctx.settings.azure as Partial<AzureSettings> | undefined) ?? {}) };
  }

  /**
   * `POST reset` replaces ctx.settings with the kernel's defaults (plus what startEmulator was given);
   * put this module's defaults back without overriding values given at start.
   */
  restoreSettings(): void {
    this.ctx.settings.azure = this.settings;
  }

  clear(): void {
    this.world.clear();
    this.buckets.clear();
    this.ficWrites.clear();
  }
}

const runtimes = new WeakMap<EmulatorContext, AzureRuntime>();

export function createRuntime(ctx: EmulatorContext): AzureRuntime {
  const runtime = new AzureRuntime(ctx);
  runtimes.set(ctx, runtime);
  return runtime;
}

export function runtimeOf(ctx: EmulatorContext): AzureRuntime {
  const runtime = runtimes.get(ctx);
  if (!runtime) throw new Error('the azure emulator module was not registered on this context');
  return runtime;
}
