// Last line of defence for secrets in text the task prints. Adapters mask tokens with setSecret the moment
// they exist, and the core never puts one in a message; this still scrubs known secret values and anything
// shaped like a JWT or a bearer header from every line before it reaches the platform, because error text
// from services and SDKs is not under our control.

const jwtPattern = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const bearerPattern = /(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  // Longest first, so that a secret containing another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) result = result.split(secret).join('***');
  }
  return result.replace(jwtPattern, '***').replace(bearerPattern, '$1***');
}
