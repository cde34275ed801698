import type { FastifyInstance } from 'fastify';
import type { AppDependencies } from '../../app.ts';
import { invalidRequest, invalidValue, missingParameter, notFound } from '../../errors/api-error.ts';
import { createId } from '../../engine/ids.ts';
import { parseInclude, parseInputItems, parseMetadata } from '../../engine/parse-create-response.ts';
import { presentItems, toStoredItems } from '../../engine/stored-items.ts';
import { CursorNotFoundError } from '../../storage/cursor-not-found-error.ts';
import { ItemIdConflictError } from '../../storage/item-id-conflict-error.ts';
import type { StoredConversation, StoredItem } from '../../storage/stores.ts';
import { readBody } from '../read-body.ts';
import { listPage, readIncludeQuery, readPageQuery } from '../pagination.ts';

/** OpenAI takes at most 20 items per request, both when creating a conversation and when adding to one. */
export const MAX_ITEMS_PER_REQUEST = 20;

type ConversationParams = { Params: { conversation_id: string } };
type ItemParams = { Params: { conversation_id: string; item_id: string } };
type JsonObject = Record<string, unknown>;

/**
 * The Conversations API: durable lists of items that responses read from (`conversation` on
 * POST /v1/responses) and append to. Every lookup is scoped by the request's owner, so another
 * key's conversation reads as a 404, exactly like one that never existed.
 */
export function registerConversationRoutes(app: FastifyInstance, dependencies: AppDependencies): void {
  const { storage, sealer } = dependencies;
  const conversations = storage.conversations;

  async function findConversation(owner: string, id: string): Promise<StoredConversation> {
    const conversation = await conversations.get(owner, id);
    if (!conversation) throw notFound('Conversation', id);
    return conversation;
  }

  /** Applies `include` to items about to be returned (see presentItems). */
  function shapeItems(items: StoredItem[], include: string[], owner: string): StoredItem[] {
    return presentItems(items, include, sealer, owner);
  }

  /** Validates `items` and makes them storable; a reference names an item of this owner's responses. */
  async function readItems(value: unknown, owner: string): Promise<StoredItem[]> {
    const items = parseInputItems(value, 'items', { maxItems: MAX_ITEMS_PER_REQUEST });
    return toStoredItems(items, (itemId) => storage.responses.findItem(owner, itemId), 'items');
  }

  app.post('/v1/conversations', async (request, reply) => {
    // The SDKs send no body at all for `conversations.create()`.
    const body = readBody(request.body, { optional: true });
    const metadata =
      body.metadata === undefined || body.metadata === null ? {} : parseMetadata(body.metadata, 'metadata');
    const items = body.items === undefined || body.items === null ? [] : await readItems(body.items, request.owner);
    const conversation: StoredConversation = {
      id: createId('conv'),
      owner: request.owner,
      createdAt: Math.floor(Date.now() / 1000),
      metadata,
    };
    await withItemIdCheck(items, () => conversations.create(conversation, items));
    return reply.send(conversationObject(conversation));
  });

  app.get<ConversationParams>('/v1/conversations/:conversation_id', async (request, reply) => {
    return reply.send(conversationObject(await findConversation(request.owner, request.params.conversation_id)));
  });

  app.post<ConversationParams>('/v1/conversations/:conversation_id', async (request, reply) => {
    const body = readBody(request.body, { optional: false });
    if (body.metadata === undefined) throw missingParameter('metadata');
    // Metadata is nullable in UpdateConversationBody; null clears it.
    const metadata = body.metadata === null ? {} : parseMetadata(body.metadata, 'metadata');
    const updated = await conversations.updateMetadata(request.owner, request.params.conversation_id, metadata);
    if (!updated) throw notFound('Conversation', request.params.conversation_id);
    return reply.send(conversationObject(updated));
  });

  app.delete<ConversationParams>('/v1/conversations/:conversation_id', async (request, reply) => {
    const id = request.params.conversation_id;
    if (!(await conversations.delete(request.owner, id))) throw notFound('Conversation', id);
    return reply.send({ id, object: 'conversation.deleted', deleted: true });
  });

  app.post<ConversationParams>('/v1/conversations/:conversation_id/items', async (request, reply) => {
    const id = request.params.conversation_id;
    const body = readBody(request.body, { optional: false });
    if (body.items === undefined) throw missingParameter('items');
    const items = await readItems(body.items, request.owner);
    // Checked before anything is written, so a bad `include` never leaves items behind.
    const include = readInclude(request.query);
    await findConversation(request.owner, id);
    const appended = await withItemIdCheck(items, () => conversations.appendItems(request.owner, id, items));
    // The conversation was deleted between the lookup and the append.
    if (!appended) throw notFound('Conversation', id);
    return reply.send(listPage(shapeItems(items, include, request.owner), false));
  });

  app.get<ConversationParams>('/v1/conversations/:conversation_id/items', async (request, reply) => {
    const id = request.params.conversation_id;
    const query = request.query as JsonObject;
    const page = readPageQuery(query, { order: 'desc', limit: 20 });
    const include = readInclude(query);
    await findConversation(request.owner, id);
    try {
      const result = await conversations.listItems(request.owner, id, page);
      return reply.send(listPage(shapeItems(result.items, include, request.owner), result.hasMore));
    } catch (error) {
      if (error instanceof CursorNotFoundError) throw invalidRequest(error.param, error.message, 'invalid_value');
      throw error;
    }
  });

  app.get<ItemParams>('/v1/conversations/:conversation_id/items/:item_id', async (request, reply) => {
    const { conversation_id: conversationId, item_id: itemId } = request.params;
    const include = readInclude(request.query);
    await findConversation(request.owner, conversationId);
    const item = await conversations.getItem(request.owner, conversationId, itemId);
    if (!item) throw notFound('Item', itemId);
    return reply.send(shapeItems([item], include, request.owner)[0]);
  });

  app.delete<ItemParams>('/v1/conversations/:conversation_id/items/:item_id', async (request, reply) => {
    const { conversation_id: conversationId, item_id: itemId } = request.params;
    const conversation = await findConversation(request.owner, conversationId);
    if (!(await conversations.deleteItem(request.owner, conversationId, itemId))) throw notFound('Item', itemId);
    // OpenAI answers with the conversation the item was removed from.
    return reply.send(conversationObject(conversation));
  });
}

/** The spec's ConversationResource. */
function conversationObject(conversation: StoredConversation): JsonObject {
  return {
    id: conversation.id,
    object: 'conversation',
    created_at: conversation.createdAt,
    metadata: conversation.metadata,
  };
}

/** `include` / `include[]` from the query string, checked against the spec's IncludeEnum. */
function readInclude(query: unknown): string[] {
  return parseInclude(readIncludeQuery(query as JsonObject), 'include');
}

/**
 * Runs a store write that refuses an item id already in the conversation (ids may be chosen by the
 * client), answering it as the client's mistake: a 400 naming the item that repeats.
 */
async function withItemIdCheck<Result>(items: StoredItem[], write: () => Promise<Result>): Promise<Result> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof ItemIdConflictError)) throw error;
    const first = items.findIndex((item) => item.id === error.itemId);
    const repeat = items.findIndex((item, index) => index > first && item.id === error.itemId);
    const index = repeat >= 0 ? repeat : first;
    throw invalidValue(
      index >= 0 ? `items[${index}].id` : 'items',
      `An item with id '${error.itemId}' is already in this conversation; item ids in a conversation must be unique.`,
    );
  }
}
