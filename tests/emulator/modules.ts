// The emulator's modules, in seeding order (later modules may rely on what earlier ones seeded), and
// the default world: each module's part of it, merged into one seed document.
import { defaultAzureSeed } from './azure/default-world';
import { azureModule } from './azure/module';
import { devopsModule } from './devops/devops-module';
import { defaultDevOpsSeed } from './devops/seed';
import { graphModule } from './graph/graph-module';
import type { EmulatorModule, SeedDocument } from './kernel/context';
import { testIssuerModule } from './kernel/test-issuer';

// devops seeds last: it reads the bootstrap identity through ARM and writes its federated credential there.
export const emulatorModules: readonly EmulatorModule[] = [azureModule, graphModule, testIssuerModule, devopsModule];

export function defaultSeed(): SeedDocument {
  return {
    azure: defaultAzureSeed(),
    devops: defaultDevOpsSeed(),
  };
}
