// A minimal OIDC issuer the emulator hosts, so federated credentials can be exercised without Azure
// DevOps: it publishes discovery and keys like any issuer, and the control API mints its assertions.
import type { EmulatorContext, EmulatorModule } from './context';
import { HttpError, jsonBody } from './http';

const AUDIENCE = 'api://AzureADTokenExchange';

export function testIssuerUrl(ctx: EmulatorContext): string {
  return `${ctx.urls.origin}/test-issuer`;
}

interface AssertionRequest {
  subject?: string;
  audience?: string | string[];
  /** Seconds the assertion is valid from now (negative: already expired). Default 600. */
  expiresInSeconds?: number;
  /** Seconds from now before which the assertion is not valid (positive: not yet valid). Default 0. */
  notBeforeSeconds?: number;
  /** Put another `iss` in the claims (still signed by the test issuer's key): for mismatch tests. */
  issuer?: string;
}

export const testIssuerModule: EmulatorModule = {
  name: 'test-issuer',

  register(ctx) {
    const service = 'test-issuer' as const;
    ctx.router.add('GET', '/test-issuer/.well-known/openid-configuration', { service, name: 'test-issuer.discovery' }, () => ({
      status: 200,
      body: {
        issuer: testIssuerUrl(ctx),
        jwks_uri: `${testIssuerUrl(ctx)}/keys`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      },
    }));
    ctx.router.add('GET', '/test-issuer/keys', { service, name: 'test-issuer.keys' }, () => ({ status: 200, body: ctx.keys.testIssuer.jwks() }));

    ctx.controlRouter.add('POST', '/test-issuer/assertions', { service: 'control', name: 'control.test-issuer.assertions' }, async (req) => {
      const input =
        jsonBody<AssertionRequest>(req, (message) => {
          throw new HttpError(400, { error: message });
        }) ?? {};
      if (typeof input.subject !== 'string' || input.subject === '') throw new HttpError(400, { error: 'subject (string) is required' });
      const now = Math.floor(Date.now() / 1000);
      const issuer = input.issuer ?? testIssuerUrl(ctx);
      const assertion = await ctx.keys.testIssuer.sign(
        {
          iss: issuer,
          sub: input.subject,
          aud: input.audience ?? AUDIENCE,
          nbf: now + (input.notBeforeSeconds ?? 0),
          exp: now + (input.expiresInSeconds ?? 600),
        },
        600,
      );
      ctx.tokens.record('id-token', assertion);
      return { status: 200, body: { assertion, issuer } };
    });
  },

  clear() {},

  seed(ctx) {
    ctx.issuers.register(testIssuerUrl(ctx), ctx.keys.testIssuer);
  },

  state() {
    return {};
  },

  info(ctx) {
    return { testIssuer: testIssuerUrl(ctx) };
  },
};
