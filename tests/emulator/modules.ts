// The emulator's modules, in seeding order (later modules may rely on what earlier ones seeded), and
// the default world: each module's part of it, merged into one seed document.
import type { EmulatorModule, SeedDocument } from './kernel/context';
import { testIssuerModule } from './kernel/test-issuer';

export const emulatorModules: readonly EmulatorModule[] = [testIssuerModule];

export function defaultSeed(): SeedDocument {
  return {};
}
