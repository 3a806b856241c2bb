import { createHash } from 'node:crypto';

/** OpenSSH's fingerprint of a public key blob (the SSH wire form): `SHA256:` and base64 without padding. */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
