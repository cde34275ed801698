import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BlobPutResult, BlobStore } from './blob-store.ts';
import { assertBlobKey } from './blob-store.ts';

export interface S3BlobStoreOptions {
  /** e.g. `https://s3.eu-west-1.amazonaws.com`, `https://<account>.r2.cloudflarestorage.com`, `http://minio:9000`. */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Put before every key (`riposte/` → `riposte/files/file-…`); '' for none. */
  prefix: string;
  /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key` (MinIO, Ceph and most self-hosted servers). */
  forcePathStyle: boolean;
  /** Size of the parts of a multipart upload, bytes (S3's minimum, 5 MiB, and up). */
  partSizeBytes?: number;
}

/** 8 MiB × S3's 10,000 parts allows objects of 80 GB, far above any file limit Riposte is given. */
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Parts uploaded at once: with the part being filled, memory per put stays near 3 × the part size. */
const PARTS_IN_FLIGHT = 2;

/**
 * Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph…), so that
 * several replicas see the same files without sharing a folder. An object appears whole when its
 * PutObject or CompleteMultipartUpload succeeds and not before, which gives `put` the
 * all-or-nothing behaviour BlobStore asks for; a stream that fails mid-way aborts its multipart
 * upload, and the parts already sent are discarded.
 */
export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly partSize: number;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = Math.max(options.partSizeBytes ?? DEFAULT_PART_SIZE, 5 * 1024 * 1024);
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // Since SDK 3.729 the default adds CRC checksums to every request and checks them on every
      // response, which many S3-compatible servers reject or do not send; only where S3 requires it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, data: Buffer | AsyncIterable<Buffer | Uint8Array>): Promise<BlobPutResult> {
    const objectKey = this.objectKey(key);
    if (Buffer.isBuffer(data)) {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: data, ContentLength: data.byteLength }),
      );
      return { bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
    }
    const hash = createHash('sha256');
    let bytes = 0;
    let sourceFailed = false;
    let sourceError: unknown;
    async function* counted(): AsyncIterable<Buffer | Uint8Array> {
      try {
        for await (const chunk of data as AsyncIterable<Buffer | Uint8Array>) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          yield chunk;
        }
      } catch (error) {
        sourceFailed = true;
        sourceError = error;
        throw error;
      }
    }
    // Upload reads the stream a part at a time (a single PutObject when it all fits in one part),
    // so memory stays bounded by the part size, and it aborts the multipart upload on an error.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: Readable.from(counted(), { objectMode: false }) },
      partSize: this.partSize,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // The caller's own error (a size limit, a client that went away) is the one it can act on,
      // even when aborting the multipart upload failed in turn and Upload reports that instead.
      if (sourceFailed) throw sourceError;
      throw error;
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<Readable | null> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const body = response.Body;
      if (body instanceof Readable) return body;
      if (body === undefined) return Readable.from([]);
      // Not reached on Node (the body is an IncomingMessage); kept for other runtimes' SDK builds.
      return Readable.from(Buffer.from(await body.transformToByteArray()));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<boolean> {
    // S3's DeleteObject succeeds whether or not the object was there, so ask first: the answer
    // is only for callers' bookkeeping, and a race with another delete is harmless.
    if (!(await this.exists(key))) return false;
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    return true;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Closes the client's sockets. */
  close(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    assertBlobKey(key);
    return this.prefix + key;
  }
}

/** NoSuchKey from GetObject; HEAD responses have no body, so a missing object there is a bare 404 NotFound. */
function isMissing(error: unknown): boolean {
  const name = (error as { name?: unknown }).name;
  return name === 'NoSuchKey' || name === 'NotFound';
}
