import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { describeBlobStoreContract } from './blob-store-contract.ts';
import { S3BlobStore } from './s3-blob-store.ts';

/** The part of s3rver (an S3-compatible server on the file system, for tests) used here; it ships no types. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
}) => S3rverServer;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

describeBlobStoreContract('S3BlobStore (s3rver on loopback)', async () => {
  const directory = await mkdtemp(path.join(tmpdir(), 'riposte-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const { port } = await server.run();
  const store = new S3BlobStore({
    endpoint: `http://127.0.0.1:${port}`,
    bucket: 'riposte-test',
    region: 'us-east-1',
    // s3rver's built-in credentials; it checks signatures made with them.
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    prefix: 'riposte/',
    forcePathStyle: true,
    partSizeBytes: 5 * 1024 * 1024,
  });
  await store.client.send(new CreateBucketCommand({ Bucket: 'riposte-test' }));
  return {
    store,
    close: async () => {
      store.close();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});
