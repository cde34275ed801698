import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION_PREFIX = 'rp1.';

/**
 * Opaque, authenticated blobs for `encrypted_content` (reasoning items returned with
 * `store: false`, compaction items). AES-256-GCM with a server key shared by every replica; the
 * purpose and owner are bound as associated data, so a blob made for one key's reasoning cannot be
 * replayed as another key's, nor as a different kind of item.
 */
export class ContentSealer {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('The content encryption key must be 32 bytes.');
    this.key = key;
  }

  seal(purpose: string, owner: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${purpose}\n${owner}`));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return VERSION_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
  }

  /** The plaintext, or null when the blob is malformed, tampered with, or sealed for another purpose or owner. */
  open(purpose: string, owner: string, sealed: string): string | null {
    if (!sealed.startsWith(VERSION_PREFIX)) return null;
    const bytes = Buffer.from(sealed.slice(VERSION_PREFIX.length), 'base64url');
    if (bytes.length < 28) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${purpose}\n${owner}`));
      decipher.setAuthTag(bytes.subarray(12, 28));
      return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
