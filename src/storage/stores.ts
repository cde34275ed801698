/**
 * The storage contracts. The SQLite store (embedded default) and the PostgreSQL store (several
 * replicas) implement the same interfaces and pass the same contract suite
 * (src/storage/store-contract.ts).
 *
 * Every read and write is scoped by `owner` — the project of the API key that made the request —
 * so no request can see or change another key's data: an id owned by someone else reads as absent.
 */

import type { VectorStoreStore } from './vector-stores.ts';

/** A Responses API item as it is on the wire (message, function_call, reasoning, …), with its `id`. */
export type StoredItem = Record<string, unknown> & { id: string; type: string };

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'incomplete' | 'cancelled';

export interface StoredResponse {
  id: string;
  owner: string;
  /** Unix seconds. */
  createdAt: number;
  status: ResponseStatus;
  previousResponseId: string | null;
  /** The full Response object as the API returns it (without `include`-only fields stripped). */
  response: Record<string, unknown>;
}

export interface ItemPage {
  items: StoredItem[];
  hasMore: boolean;
}

export interface PageRequest {
  /** Item id to start after (exclusive), in the listing's order. */
  after: string | null;
  /** Item id to end before (exclusive), in the listing's order. */
  before: string | null;
  limit: number;
  order: 'asc' | 'desc';
}

export interface ResponseStore {
  /** Inserts a new response with its input items (in order). Fails if the id exists. */
  create(record: StoredResponse, inputItems: StoredItem[]): Promise<void>;
  /** Replaces the stored response object and status, and records its output items (in order). */
  finish(
    owner: string,
    id: string,
    status: ResponseStatus,
    response: Record<string, unknown>,
    outputItems: StoredItem[],
  ): Promise<void>;
  /** Updates status and object of a response still running (e.g. queued → in_progress). */
  updateStatus(owner: string, id: string, status: ResponseStatus, response: Record<string, unknown>): Promise<void>;
  /**
   * Takes a queued (background) response to run: moves it to `in_progress` with `response` as
   * its object, atomically, only if it is still `queued`. True for the one caller that moved it;
   * false for everyone else — another worker claimed it first (a duplicate job), it was cancelled
   * or has ended, or it is absent or another owner's. A false claim writes nothing.
   */
  claim(owner: string, id: string, response: Record<string, unknown>): Promise<boolean>;
  /** The response, or null when absent, deleted or owned by another key. */
  get(owner: string, id: string): Promise<StoredResponse | null>;
  /** Deletes the response and its items; false when there was nothing to delete. */
  delete(owner: string, id: string): Promise<boolean>;
  /**
   * The input items of one response, paged by item id (none when the response is absent or another
   * owner's). Throws CursorNotFoundError (./cursor-not-found-error.ts) when `after` or `before` is
   * not the id of one of them.
   */
  listInputItems(owner: string, responseId: string, page: PageRequest): Promise<ItemPage>;
  /** Input items then output items of one response, in order — one link of a previous_response_id chain. */
  chainLink(owner: string, responseId: string): Promise<{ input: StoredItem[]; output: StoredItem[] } | null>;
  /** Any stored input or output item by id, for `item_reference`. */
  findItem(owner: string, itemId: string): Promise<StoredItem | null>;
  /**
   * Ends every response left `in_progress` or `queued` by a process that died, so nothing stays
   * in progress for ever. Returns how many it ended. Background responses (those with a saved
   * request) are skipped: the job runner recovers them (BackgroundStore.listUnfinished).
   */
  failInterrupted(message: string, olderThanSeconds: number): Promise<number>;
}

/** Everything a Riposte process keeps. */
export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for the start-up banner (a file path, or a URL without its password). */
  readonly location: string;
  readonly responses: ResponseStore;
  readonly conversations: ConversationStore;
  readonly prompts: PromptStore;
  readonly background: BackgroundStore;
  readonly files: FileStore;
  readonly uploads: UploadStore;
  readonly vectorStores: VectorStoreStore;
  close(): Promise<void>;
}

/** A conversation: durable state that responses read from and append to. */
export interface StoredConversation {
  id: string;
  owner: string;
  /** Unix seconds. */
  createdAt: number;
  metadata: Record<string, string>;
}

export interface ConversationStore {
  /**
   * Inserts a conversation with its initial items (in order). Fails if the id exists. Item ids
   * are unique within a conversation: a repeated one throws ItemIdConflictError
   * (./item-id-conflict-error.ts) and nothing is written.
   */
  create(conversation: StoredConversation, items: StoredItem[]): Promise<void>;
  /** The conversation, or null when absent, deleted or another owner's. */
  get(owner: string, id: string): Promise<StoredConversation | null>;
  /** Replaces the metadata; null when the conversation is absent. */
  updateMetadata(owner: string, id: string, metadata: Record<string, string>): Promise<StoredConversation | null>;
  /** Deletes the conversation and its items; false when there was nothing to delete. */
  delete(owner: string, id: string): Promise<boolean>;
  /**
   * Appends items after the last one, atomically: all of them, contiguous, or none (false when
   * the conversation is gone). Two appends racing on one conversation never interleave. An item
   * whose id is already in the conversation (or repeats in `items`) throws ItemIdConflictError,
   * and nothing is written.
   */
  appendItems(owner: string, id: string, items: StoredItem[]): Promise<boolean>;
  /** One page of items; throws CursorNotFoundError for an unknown `after`/`before`. */
  listItems(owner: string, id: string, page: PageRequest): Promise<ItemPage>;
  /** Every item, oldest first — what the model sees. */
  allItems(owner: string, id: string): Promise<StoredItem[]>;
  getItem(owner: string, conversationId: string, itemId: string): Promise<StoredItem | null>;
  /** Removes one item; false when it was not there. The others keep their places. */
  deleteItem(owner: string, conversationId: string, itemId: string): Promise<boolean>;
}

/** One immutable version of a prompt: the configuration a `prompt: {id, version}` applies. */
export interface StoredPromptVersion {
  promptId: string;
  /** "1", "2", … assigned in order of creation. */
  version: string;
  /** Unix seconds. */
  createdAt: number;
  /** The configuration: instructions, input messages, model, tools, text, reasoning, sampling, … */
  body: Record<string, unknown>;
}

export interface StoredPrompt {
  id: string;
  owner: string;
  name: string | null;
  createdAt: number;
  defaultVersion: string;
  latestVersion: string;
}

export interface PromptStore {
  /** Creates a prompt with its first version ("1"), which becomes the default. */
  create(
    owner: string,
    prompt: { id: string; name: string | null; createdAt: number; body: Record<string, unknown> },
  ): Promise<StoredPrompt>;
  /** Adds the next version; null when the prompt is absent. */
  addVersion(
    owner: string,
    id: string,
    body: Record<string, unknown>,
    createdAt: number,
  ): Promise<StoredPromptVersion | null>;
  get(owner: string, id: string): Promise<StoredPrompt | null>;
  /** A version, or the default one when `version` is null; null when absent. */
  getVersion(owner: string, id: string, version: string | null): Promise<StoredPromptVersion | null>;
  /** Versions in order, newest last. */
  listVersions(owner: string, id: string): Promise<StoredPromptVersion[]>;
  /** Prompts of this owner, oldest first. */
  list(owner: string): Promise<StoredPrompt[]>;
  /** Makes `version` the default; null when the prompt or version is absent. */
  setDefaultVersion(owner: string, id: string, version: string): Promise<StoredPrompt | null>;
  delete(owner: string, id: string): Promise<boolean>;
}

/** One stored stream event of a background response. */
export interface StoredEvent {
  sequenceNumber: number;
  event: Record<string, unknown>;
}

/** A background response that has not ended, as the recovery and the stale sweep see it. */
export interface UnfinishedBackgroundResponse {
  responseId: string;
  owner: string;
  status: 'queued' | 'in_progress';
  /** Unix seconds of the last appended event or heartbeat (or, with neither, the saved request). */
  lastEventAt: number;
}

/**
 * What background mode keeps beside the response itself: the request to run (so a restart can
 * run it), the event log clients replay (`GET /v1/responses/{id}?stream=true&starting_after=N`),
 * and cancellation requests.
 */
export interface BackgroundStore {
  /**
   * Records the validated request of a queued background response. Fails when the response is
   * absent or another owner's (create it first), or already has a request.
   */
  saveRequest(owner: string, responseId: string, request: Record<string, unknown>): Promise<void>;
  getRequest(owner: string, responseId: string): Promise<Record<string, unknown> | null>;
  /**
   * Appends events (sequence numbers increasing), all or none; an existing sequence number, or a
   * response without a saved request, is an error.
   */
  appendEvents(responseId: string, events: StoredEvent[]): Promise<void>;
  /** Events after `afterSequence` (-1 for all), in order, at most `limit`. */
  readEvents(responseId: string, afterSequence: number, limit: number): Promise<StoredEvent[]>;
  /** Marks a cancel request; false when there is no such background response for this owner. */
  requestCancel(owner: string, responseId: string): Promise<boolean>;
  isCancelRequested(responseId: string): Promise<boolean>;
  /**
   * The runner's heartbeat: moves the request's last_event_at to now, as appending an event
   * does, so a long quiet upstream call does not look like a dead replica. No-op without one.
   */
  touch(responseId: string): Promise<void>;
  /**
   * Background responses left queued or in progress (after a crash), oldest first, with when
   * their last event or heartbeat was written (unix seconds).
   */
  listUnfinished(): Promise<UnfinishedBackgroundResponse[]>;
  /**
   * Deletes events and requests of background responses that ended more than `olderThanSeconds`
   * ago — their response row has a final status, and their last event (or, with none, the saved
   * request) is that old. The response rows stay. Returns how many requests it deleted.
   */
  prune(olderThanSeconds: number): Promise<number>;
}

/**
 * A file's metadata; its bytes are in the BlobStore under `blobKey`. Files are immutable once
 * created: they are only read, listed and deleted.
 */
export interface StoredFile {
  /** `file-…`. */
  id: string;
  owner: string;
  /** Unix seconds. */
  createdAt: number;
  bytes: number;
  filename: string;
  purpose: string;
  /** The content type the client sent with the bytes, if any. */
  mimeType: string | null;
  /** Unix seconds after which the file reads as absent; null: kept until deleted. */
  expiresAt: number | null;
  blobKey: string;
}

/** One page of files, and whether more follow in the same order. */
export interface FilePage {
  files: StoredFile[];
  hasMore: boolean;
}

export interface FileListRequest {
  /** Only files with this purpose; null for all. */
  purpose: string | null;
  /** File id to start after (exclusive), in the listing's order; unknown throws CursorNotFoundError. */
  after: string | null;
  limit: number;
  /** By creation time (files created in the same second in the order they were created). */
  order: 'asc' | 'desc';
}

/**
 * The Files API's records. An expired file (expiresAt in the past) reads as absent everywhere,
 * before `deleteExpired` removes it.
 */
export interface FileStore {
  /** Inserts a file; fails if the id exists. */
  create(file: StoredFile): Promise<void>;
  /** The file, or null when absent, expired, deleted or another owner's. */
  get(owner: string, id: string): Promise<StoredFile | null>;
  list(owner: string, request: FileListRequest): Promise<FilePage>;
  /** Deletes the file and returns what it was (its blob is the caller's to delete); null when absent. */
  delete(owner: string, id: string): Promise<StoredFile | null>;
  /**
   * Deletes up to `limit` files whose expiry has passed, whoever owns them, and returns them so the
   * caller can delete their blobs (see pruneFiles in ./prune-files.ts).
   */
  deleteExpired(limit: number): Promise<StoredFile[]>;
}

/**
 * An Upload of the Uploads API: a file sent in parts, assembled on completion. `status` is as
 * stored; an upload still pending after `expiresAt` is reported `expired`.
 */
export interface StoredUpload {
  /** `upload_…`. */
  id: string;
  owner: string;
  createdAt: number;
  /** Unix seconds: an upload takes no parts and cannot be completed after this. */
  expiresAt: number;
  filename: string;
  purpose: string;
  /** The size the client announced; completion checks the parts add up to it. */
  bytes: number;
  mimeType: string;
  /** `expires_after.seconds` for the file the upload becomes; null: the file does not expire. */
  fileExpiresAfterSeconds: number | null;
  status: 'pending' | 'completed' | 'cancelled' | 'expired';
  /** The file made on completion. */
  fileId: string | null;
}

/** A chunk of an upload; its bytes are in the BlobStore under `blobKey` until completion. */
export interface StoredUploadPart {
  /** `part_…`. */
  id: string;
  uploadId: string;
  createdAt: number;
  bytes: number;
  blobKey: string;
}

/** An upload that ended (completed or cancelled), with the blobs of its parts, now the caller's to delete. */
export interface EndedUpload {
  upload: StoredUpload;
  partBlobKeys: string[];
}

export interface UploadStore {
  /** Inserts a pending upload; fails if the id exists. */
  create(upload: StoredUpload): Promise<void>;
  /** The upload, or null when absent, pruned or another owner's. */
  get(owner: string, id: string): Promise<StoredUpload | null>;
  /**
   * Records a part whose bytes are already in the BlobStore. False (and nothing recorded) unless
   * the upload is this owner's, pending and not expired — the part's blob is then the caller's
   * to delete.
   */
  addPart(owner: string, uploadId: string, part: StoredUploadPart): Promise<boolean>;
  /** The parts of a pending upload, in the order they were added. */
  listParts(owner: string, uploadId: string): Promise<StoredUploadPart[]>;
  /**
   * Atomically: inserts `file`, marks the upload completed with it and forgets its parts. Null
   * (and nothing written) unless the upload is this owner's, pending and not expired.
   */
  complete(owner: string, uploadId: string, file: StoredFile): Promise<EndedUpload | null>;
  /** Marks a pending upload cancelled and forgets its parts; null unless it was pending and not expired. */
  cancel(owner: string, uploadId: string): Promise<EndedUpload | null>;
  /**
   * Deletes uploads (any status) whose expiry passed more than `olderThanSeconds` ago, with their
   * parts, and returns the parts' blob keys for the caller to delete.
   */
  prune(olderThanSeconds: number): Promise<string[]>;
}
