import type { ChatCompletionRequestBody, ChatRequestMessage } from './api-schemas.ts';

/**
 * Which tokenize endpoint an upstream has. Never probed: a wrong guess would cost a failed call on
 * every request, and some servers answer unknown paths with a 200 HTML page.
 *
 * - `vllm`: `POST {root}/tokenize` with `{model, messages, tools}` → `{count, …}`. vLLM applies
 *   the model's own chat template, so the count is exact.
 * - `llama.cpp`: `POST {root}/tokenize` with `{content}` → `{tokens: [...]}`. It takes plain
 *   text only, so the messages are rendered here and a few tokens a message are added for the
 *   chat template's markers: exact text, approximate framing.
 */
export type TokenizeEndpoint = 'vllm' | 'llama.cpp';

/**
 * A chat template wraps each message in markers (`<|im_start|>user\n … <|im_end|>\n` is 4–5
 * tokens in ChatML, Llama 3's header is 4 plus the end token); the rendered text below already
 * carries the role name, so this counts the rest.
 */
const LLAMA_CPP_TEMPLATE_TOKENS_PER_MESSAGE = 4;
/** The generation prompt (`<|im_start|>assistant\n`) that opens the reply. */
const LLAMA_CPP_REPLY_TOKENS = 3;

export interface TokenizeCall {
  endpoint: TokenizeEndpoint;
  /** The server root: the base URL without its `/v1`. */
  root: string;
  headers: Record<string, string>;
  fetch: typeof globalThis.fetch;
  signal: AbortSignal;
}

/** The server root of an OpenAI-compatible base URL: tokenize lives beside `/v1`, not under it. */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/**
 * Asks the upstream how many tokens `body` is. Null when the request cannot be counted there (a
 * llama.cpp request with images or files) or the call fails in any way: counting is advisory and
 * falls back to the local estimate.
 */
export async function countTokensUpstream(
  call: TokenizeCall,
  body: Pick<ChatCompletionRequestBody, 'model' | 'messages' | 'tools'>,
): Promise<number | null> {
  const payload =
    call.endpoint === 'vllm'
      ? {
          model: body.model,
          messages: body.messages,
          ...(body.tools ? { tools: body.tools } : {}),
          add_generation_prompt: true,
        }
      : llamaCppPayload(body);
  if (payload === null) return null;
  try {
    const response = await call.fetch(`${call.root}/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...call.headers },
      body: JSON.stringify(payload),
      signal: call.signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      return null;
    }
    const answer: unknown = await response.json();
    if (typeof answer !== 'object' || answer === null) return null;
    if (call.endpoint === 'vllm') {
      const count = (answer as { count?: unknown }).count;
      return typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : null;
    }
    const tokens = (answer as { tokens?: unknown }).tokens;
    if (!Array.isArray(tokens)) return null;
    return tokens.length + body.messages.length * LLAMA_CPP_TEMPLATE_TOKENS_PER_MESSAGE + LLAMA_CPP_REPLY_TOKENS;
  } catch {
    return null;
  }
}

/** llama.cpp's body: the conversation rendered as text, or null when it holds images or files. */
function llamaCppPayload(
  body: Pick<ChatCompletionRequestBody, 'messages' | 'tools'>,
): { content: string; add_special: boolean } | null {
  const lines: string[] = [];
  // Chat templates put tool definitions, as JSON, into the system prompt.
  if (body.tools && body.tools.length > 0) lines.push(body.tools.map((tool) => JSON.stringify(tool)).join('\n'));
  for (const message of body.messages) {
    const text = renderMessage(message);
    if (text === null) return null;
    lines.push(text);
  }
  // add_special: the BOS token the server prepends to every prompt.
  return { content: lines.join('\n'), add_special: true };
}

function renderMessage(message: ChatRequestMessage): string | null {
  switch (message.role) {
    case 'system':
      return `system\n${message.content}`;
    case 'tool':
      return `tool\n${message.content}`;
    case 'user': {
      if (typeof message.content === 'string') return `user\n${message.content}`;
      const texts: string[] = [];
      for (const part of message.content) {
        // Media are not text; the local estimate knows their fixed costs, llama.cpp's text
        // tokenizer does not.
        if (part.type !== 'text') return null;
        texts.push(part.text);
      }
      return `user\n${texts.join('\n')}`;
    }
    case 'assistant': {
      const parts = [message.reasoning_content ?? '', message.content ?? ''];
      for (const call of message.tool_calls ?? []) parts.push(JSON.stringify(call.function));
      return `assistant\n${parts.filter((part) => part !== '').join('\n')}`;
    }
  }
}
