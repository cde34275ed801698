import type { ProviderConfig } from '../config/riposte-config.ts';
import type { ModelAdapter } from './model-adapter.ts';
import { OpenAiChatAdapter } from './openai-chat/openai-chat-adapter.ts';

/** The adapter for one configured provider. */
export function createAdapter(provider: ProviderConfig): ModelAdapter {
  switch (provider.type) {
    case 'openai-chat':
      return new OpenAiChatAdapter({
        baseUrl: provider.baseUrl,
        apiKey: provider.apiKey,
        headers: provider.headers,
        timeoutMs: provider.timeoutMs,
        maxRetries: provider.maxRetries,
        streaming: provider.streaming,
        tokenizeEndpoint: provider.tokenizeEndpoint,
        capabilities: { enforcesJsonSchema: provider.enforcesJsonSchema },
      });
  }
}
