import { join } from 'node:path';
import type { BlobsConfig } from '../../config/riposte-config.ts';
import type { BlobStore } from './blob-store.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { S3BlobStore } from './s3-blob-store.ts';

export interface OpenedBlobs {
  blobs: BlobStore;
  /** For the start-up banner, e.g. `local (./data/blobs)`, `s3 (http://minio:9000, bucket riposte, prefix riposte/)`. */
  description: string;
  close(): void;
}

/** The configured BlobStore: a folder in the data dir by default, or an S3-compatible bucket. */
export function openBlobStore(config: BlobsConfig, dataDirectory: string): OpenedBlobs {
  if (config.type === 'local') {
    const root = join(dataDirectory, 'blobs');
    return { blobs: new LocalBlobStore(root), description: `local (${root})`, close: () => undefined };
  }
  const store = new S3BlobStore(config);
  const prefix = config.prefix === '' ? '' : `, prefix ${config.prefix}`;
  return {
    blobs: store,
    description: `s3 (${config.endpoint}, bucket ${config.bucket}${prefix})`,
    close: () => store.close(),
  };
}
