// Signing keys and JWTs for every token the emulator hands out, and the record of all of them.
//
// The emulator plays several issuers: Entra ID (access tokens), Azure DevOps (ID tokens for service
// connections, in both the Entra-issuer and the legacy vstoken format, and job access tokens) and a test
// issuer. Each has its own RSA key so a token signed by one cannot pass as another's. `jose` does the JWT
// work; the emulator only decides which claims go in and which checks come out.
import { createPublicKey, randomUUID } from 'node:crypto';
import { decodeJwt, errors as joseErrors, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
type VerifyKey = Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];

export class KeyRing {
  private constructor(
    readonly name: string,
    readonly kid: string,
    private readonly privateKey: SigningKey,
    readonly publicKey: VerifyKey,
    readonly publicJwk: JWK,
  ) {}

  static async create(name: string): Promise<KeyRing> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `${name}-${randomUUID().slice(0, 8)}`;
    const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
    return new KeyRing(name, kid, privateKey, publicKey, publicJwk);
  }

  /** `{ keys: [...] }` as a JWKS endpoint serves it. */
  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  publicKeyPem(): string {
    return createPublicKey({ key: this.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  }

  async sign(claims: JWTPayload, lifetimeSeconds: number, now = Date.now()): Promise<string> {
    const iat = Math.floor(now / 1000);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.kid })
      .setIssuedAt(iat)
      .setNotBefore(claims.nbf ?? iat)
      .setExpirationTime(claims.exp ?? iat + lifetimeSeconds)
      .sign(this.privateKey);
  }
}

export type TokenCheckFailure = 'malformed' | 'signature' | 'expired' | 'not-yet-valid';

export class TokenCheckError extends Error {
  constructor(readonly reason: TokenCheckFailure, message: string) {
    super(message);
    this.name = 'TokenCheckError';
  }
}

/**
 * Tokens whose signature already verified, per key ring. A client sends the same bearer token with every
 * call; RSA verification of each one was the emulator's largest CPU cost under load, and the emulator shares
 * the machine with the task it serves. The signature of a given string never changes; `exp` and `nbf` are
 * checked again on every use.
 */
const verifiedSignatures = new WeakMap<KeyRing, Map<string, JWTPayload>>();
const MAX_REMEMBERED_TOKENS = 10_000;

function checkTimes(payload: JWTPayload, now = Math.floor(Date.now() / 1000)): JWTPayload {
  if (typeof payload.exp === 'number' && now >= payload.exp) throw new TokenCheckError('expired', '"exp" claim timestamp check failed');
  if (typeof payload.nbf === 'number' && now < payload.nbf) throw new TokenCheckError('not-yet-valid', '"nbf" claim timestamp check failed');
  return payload;
}

/** Verifies signature, `exp` and `nbf` (no clock tolerance: expiry is what the AADSTS700024 tests are about). */
export async function verifyToken(token: string, keyRing: KeyRing): Promise<JWTPayload> {
  const remembered = verifiedSignatures.get(keyRing)?.get(token);
  if (remembered) return checkTimes(remembered);
  try {
    const { payload } = await jwtVerify(token, keyRing.publicKey, { algorithms: ['RS256'] });
    let known = verifiedSignatures.get(keyRing);
    if (!known) verifiedSignatures.set(keyRing, (known = new Map()));
    if (known.size >= MAX_REMEMBERED_TOKENS) known.clear();
    known.set(token, payload);
    return payload;
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new TokenCheckError('expired', error.message);
    if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') throw new TokenCheckError('not-yet-valid', error.message);
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new TokenCheckError('signature', error.message);
    throw new TokenCheckError('malformed', (error as Error).message);
  }
}

/** The payload without any check, or undefined when it is not a JWT. */
export function peekToken(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

export type IssuedTokenKind = 'access-token' | 'id-token' | 'job-access-token';

export interface IssuedToken {
  kind: IssuedTokenKind;
  token: string;
  issuer: string;
  subject: string;
  audience: string;
  issuedAt: string;
}

/** Every token string the emulator has issued, so tests can prove none of them leaked into a log. */
export class IssuedTokenLog {
  private readonly entries: IssuedToken[] = [];

  record(kind: IssuedTokenKind, token: string): string {
    const claims = peekToken(token) ?? {};
    const audience = Array.isArray(claims.aud) ? claims.aud.join(' ') : String(claims.aud ?? '');
    this.entries.push({
      kind,
      token,
      issuer: String(claims.iss ?? ''),
      subject: String(claims.sub ?? ''),
      audience,
      issuedAt: new Date().toISOString(),
    });
    return token;
  }

  list(): readonly IssuedToken[] {
    return this.entries;
  }

  clear(): void {
    this.entries.length = 0;
  }
}
