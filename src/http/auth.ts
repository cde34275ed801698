import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { invalidApiKey, missingApiKey } from '../errors/api-error.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The project of the API key that made the request; scopes every stored read and write. */
    owner: string;
  }
}

/** The project that owns data when no API keys are configured (loopback-only servers). */
export const OPEN_OWNER = 'default';

/**
 * Resolves the request's owner from its bearer key. With no keys configured every request is
 * the open owner — main.ts refuses to bind beyond loopback in that case. Keys are kept only as
 * SHA-256 hashes.
 */
export function createAuthenticator(keyHashes: Map<string, string>): (request: FastifyRequest) => void {
  return (request) => {
    if (keyHashes.size === 0) {
      request.owner = OPEN_OWNER;
      return;
    }
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw missingApiKey();
    const project = keyHashes.get(createHash('sha256').update(match[1]).digest('hex'));
    if (project === undefined) throw invalidApiKey();
    request.owner = project;
  };
}
