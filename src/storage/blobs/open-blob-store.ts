import { join } from 'node:path';
import type { BlobsConfig } from '../../config/riposte-config.ts';
import type { BlobStore } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';

export interface OpenedBlobs {
  blobs: BlobStore;
  /** For the start-up banner, e.g. `local (./data/blobs)`, `s3 (http://minio:9000, bucket riposte, prefix riposte/)`. */
  description: string;
  close(): void;
}

/**
 * The configured BlobStore: a folder in the data dir by default, or an S3-compatible bucket. The
 * AWS SDK is loaded only for a bucket: it is some 10 MB of memory a local store never uses.
 */
export async function openBlobStore(config: BlobsConfig, dataDirectory: string): Promise<OpenedBlobs> {
  if (config.type === 'local') {
    const root = join(dataDirectory, 'blobs');
    return { blobs: new LocalBlobStore(root), description: `local (${root})`, close: () => undefined };
  }
  const { S3BlobStore } = await import('./s3-blob-store.ts');
  const store = new S3BlobStore(config);
  const prefix = config.prefix === '' ? '' : `, prefix ${config.prefix}`;
  return {
    blobs: store,
    description: `s3 (${config.endpoint}, bucket ${config.bucket}${prefix})`,
    close: () => store.close(),
  };
}
