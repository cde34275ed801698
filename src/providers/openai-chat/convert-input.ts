import type { ModelContentPart, ModelItem, ModelRequest, ModelTool, ModelToolChoice } from '../model-adapter.ts';
import type {
  ChatCompletionRequestBody,
  ChatFunctionTool,
  ChatMessageToolCall,
  ChatRequestMessage,
  ChatToolChoice,
  ChatUserContentPart,
} from './api-schemas.ts';

/**
 * Custom (free-text) tools have no Chat Completions equivalent, so each is offered as a function
 * whose only parameter is this string; map-events.ts unwraps it again.
 */
export const CUSTOM_TOOL_INPUT_PARAMETER = 'input';

/** Turns a provider-neutral request into the body of POST /chat/completions. */
export function convertRequest(request: ModelRequest, options: { stream: boolean }): ChatCompletionRequestBody {
  // Everything but model, messages and stream; assembled in wire order at the end.
  const body: Omit<ChatCompletionRequestBody, 'model' | 'messages' | 'stream'> = {};

  // Several upstreams reject `tools: []`, and OpenAI rejects tool_choice / parallel_tool_calls
  // without tools, so all three travel together or not at all.
  if (request.tools.length > 0) {
    body.tools = request.tools.map(convertTool);
    body.tool_choice = convertToolChoice(request.toolChoice);
    body.parallel_tool_calls = request.parallelToolCalls;
  }

  const format = request.textFormat;
  if (format.type === 'json_object') {
    body.response_format = { type: 'json_object' };
  } else if (format.type === 'json_schema') {
    body.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        ...(format.description === null ? {} : { description: format.description }),
        schema: format.schema,
        strict: format.strict,
      },
    };
  }

  if (request.reasoning?.effort != null) body.reasoning_effort = request.reasoning.effort;
  if (request.verbosity !== null) body.verbosity = request.verbosity;
  if (request.temperature !== null) body.temperature = request.temperature;
  if (request.topP !== null) body.top_p = request.topP;
  // max_tokens, not max_completion_tokens: OpenAI deprecated max_tokens, but vLLM (older),
  // llama.cpp, LM Studio and many proxies only read max_tokens, and OpenAI still accepts it for
  // non-reasoning models. An upstream that needs max_completion_tokens is better served by its own
  // adapter (or the Responses adapter for OpenAI itself).
  if (request.maxOutputTokens !== null) body.max_tokens = request.maxOutputTokens;
  if (request.topLogprobs !== null) {
    body.logprobs = true;
    body.top_logprobs = request.topLogprobs;
  }
  if (request.user !== null) body.user = request.user;
  if (request.promptCacheKey !== null) body.prompt_cache_key = request.promptCacheKey;

  return {
    model: request.model,
    messages: convertItems(request.items),
    ...body,
    stream: options.stream,
    // Without it OpenAI, vLLM and Ollama send no usage at all when streaming.
    ...(options.stream ? { stream_options: { include_usage: true } } : {}),
  };
}

/** An assistant turn being gathered from consecutive reasoning, message and tool-call items. */
interface PendingAssistantTurn {
  texts: string[];
  toolCalls: ChatMessageToolCall[];
  reasoning: string[];
}

/**
 * Converts the conversation. Three rules are not one-to-one:
 *
 * - Consecutive assistant-side items (reasoning, assistant messages, function and custom tool calls)
 *   become ONE assistant message: Chat Completions carries a step's text and its tool calls in the
 *   same message, and strict chat templates (Mistral, Llama, Gemma via vLLM) reject two assistant
 *   messages in a row.
 * - Tool outputs with images or files: tool messages carry only text on most upstreams, so the
 *   media of a run of tool outputs follows as one user message after the last tool message (it
 *   cannot go between them: every tool message must directly follow the assistant's tool calls).
 * - Reasoning is sent back as `reasoning_content` on the assistant message it belongs to, and only
 *   within the current turn (after the last user message). That is the simple case every upstream
 *   that reads the field handles: DeepSeek and Kimi require it between tool calls of one turn, and
 *   chat templates (DeepSeek, Qwen3, Kimi) discard the reasoning of earlier turns anyway, so
 *   sending it would only cost bandwidth and, on older DeepSeek versions, a 400. Reasoning with no
 *   assistant output after it has no message to ride on and is dropped.
 */
export function convertItems(items: readonly ModelItem[]): ChatRequestMessage[] {
  const messages: ChatRequestMessage[] = [];
  let assistant: PendingAssistantTurn | null = null;
  let toolMedia: ChatUserContentPart[] = [];
  let lastUserMessageIndex = -1;
  const reasoningByMessage = new Map<ChatRequestMessage, string>();

  const flushAssistant = (): void => {
    if (assistant === null) return;
    const turn = assistant;
    assistant = null;
    if (turn.texts.length === 0 && turn.toolCalls.length === 0) return;
    // '' rather than null for a turn with only tool calls: vercel/ai's openai-compatible provider
    // does the same, because some servers' templates fail on a null content.
    const message: ChatRequestMessage = { role: 'assistant', content: turn.texts.join('\n\n') };
    if (turn.toolCalls.length > 0) message.tool_calls = turn.toolCalls;
    if (turn.reasoning.length > 0) reasoningByMessage.set(message, turn.reasoning.join('\n\n'));
    messages.push(message);
  };
  const flushToolMedia = (): void => {
    if (toolMedia.length === 0) return;
    messages.push({ role: 'user', content: toolMedia });
    toolMedia = [];
  };
  const startAssistant = (): PendingAssistantTurn => {
    flushToolMedia();
    assistant ??= { texts: [], toolCalls: [], reasoning: [] };
    return assistant;
  };
  const pushToolOutput = (callId: string, output: string | ModelContentPart[]): void => {
    flushAssistant();
    if (typeof output === 'string') {
      messages.push({ role: 'tool', tool_call_id: callId, content: output });
      return;
    }
    const text = joinText(output);
    const media = output.filter((part) => part.type !== 'text').map(convertUserPart);
    toolMedia.push(...media);
    const content =
      text === '' && media.length > 0
        ? '(The tool returned images or files; they follow in the next user message.)'
        : text;
    messages.push({ role: 'tool', tool_call_id: callId, content });
  };

  for (const item of items) {
    switch (item.type) {
      case 'message':
        if (item.role === 'assistant') {
          const text = joinText(item.content);
          if (text !== '') startAssistant().texts.push(text);
          break;
        }
        flushAssistant();
        flushToolMedia();
        if (item.role === 'user') {
          messages.push({ role: 'user', content: convertUserContent(item.content) });
          lastUserMessageIndex = messages.length - 1;
        } else {
          // 'developer' becomes 'system': vLLM, Ollama, llama.cpp and most chat templates know only
          // system. Images and files cannot ride on a system message there, so only its text goes.
          messages.push({ role: 'system', content: joinText(item.content) });
        }
        break;
      case 'reasoning':
        startAssistant().reasoning.push(item.text);
        break;
      case 'function_call':
        startAssistant().toolCalls.push({
          id: item.callId,
          type: 'function',
          function: { name: item.name, arguments: item.arguments },
        });
        break;
      case 'custom_tool_call':
        startAssistant().toolCalls.push({
          id: item.callId,
          type: 'function',
          function: { name: item.name, arguments: JSON.stringify({ [CUSTOM_TOOL_INPUT_PARAMETER]: item.input }) },
        });
        break;
      case 'function_call_output':
      case 'custom_tool_call_output':
        pushToolOutput(item.callId, item.output);
        break;
    }
  }
  flushAssistant();
  flushToolMedia();

  messages.forEach((message, index) => {
    const reasoning = reasoningByMessage.get(message);
    if (message.role === 'assistant' && reasoning !== undefined && index > lastUserMessageIndex) {
      message.reasoning_content = reasoning;
    }
  });
  return messages;
}

/** Text parts are joined with a newline, as separate input_text parts read to a person. */
function joinText(content: readonly ModelContentPart[]): string {
  return content
    .filter((part) => part.type === 'text')
    .map((part) => part.text)
    .join('\n');
}

/**
 * All-text content goes as a plain string: llama.cpp's older builds, LM Studio and many chat
 * templates only accept a string there.
 */
function convertUserContent(content: readonly ModelContentPart[]): string | ChatUserContentPart[] {
  if (content.every((part) => part.type === 'text')) return joinText(content);
  return content.map(convertUserPart);
}

function convertUserPart(part: ModelContentPart): ChatUserContentPart {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return { type: 'image_url', image_url: { url: part.url, detail: part.detail } };
    case 'file':
      return {
        type: 'file',
        file: {
          ...(part.filename === null ? {} : { filename: part.filename }),
          // Chat Completions has no file URL field; OpenRouter (the main upstream that takes
          // files) accepts a URL in file_data, the others answer 400 either way.
          file_data: part.data === null ? (part.url ?? '') : toDataUrl(part.data, part.filename),
        },
      };
  }
}

/** OpenAI and OpenRouter expect file_data as a data: URL; the contract also allows bare base64. */
function toDataUrl(data: string, filename: string | null): string {
  if (data.startsWith('data:')) return data;
  const mediaType = filename?.toLowerCase().endsWith('.pdf') === true ? 'application/pdf' : 'application/octet-stream';
  return `data:${mediaType};base64,${data}`;
}

function convertTool(tool: ModelTool): ChatFunctionTool {
  if (tool.type === 'function') {
    return {
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === null ? {} : { description: tool.description }),
        parameters: tool.parameters,
        // Only sent when true: false is the default, and some proxies reject the field outright.
        ...(tool.strict ? { strict: true } : {}),
      },
    };
  }
  // The grammar of a custom tool cannot be enforced here, so the model at least gets to read it.
  const format = tool.format;
  const syntax = typeof format?.syntax === 'string' ? `${format.syntax} ` : '';
  const grammar =
    format?.type === 'grammar' && typeof format.definition === 'string'
      ? `The input must match this ${syntax}grammar:\n${format.definition}`
      : null;
  const description = [tool.description, grammar].filter((part) => part !== null).join('\n\n');
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(description === '' ? {} : { description }),
      parameters: {
        type: 'object',
        properties: { [CUSTOM_TOOL_INPUT_PARAMETER]: { type: 'string', description: 'The raw input to the tool.' } },
        required: [CUSTOM_TOOL_INPUT_PARAMETER],
        additionalProperties: false,
      },
    },
  };
}

function convertToolChoice(choice: ModelToolChoice): ChatToolChoice {
  if (typeof choice === 'string') return choice;
  return { type: 'function', function: { name: choice.name } };
}

/** The names of the request's custom tools, which map-events.ts reports back as kind 'custom'. */
export function customToolNames(tools: readonly ModelTool[]): ReadonlySet<string> {
  return new Set(tools.filter((tool) => tool.type === 'custom').map((tool) => tool.name));
}
