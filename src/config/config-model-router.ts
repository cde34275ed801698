import type { ModelRoute, ModelRouter, RoutedModel } from '../engine/model-router.ts';
import type { ModelAdapter } from '../providers/model-adapter.ts';
import type { ModelConfig, ProviderConfig } from './riposte-config.ts';

interface CompiledRoute {
  config: ModelConfig;
  pattern: RegExp | null;
  provider: ProviderConfig;
  adapter: ModelAdapter;
}

/**
 * Routes public model names by the config's model table: the first entry whose name (or
 * wildcard pattern) matches wins. One adapter per provider, shared by its routes.
 */
export class ConfigModelRouter implements ModelRouter {
  private readonly routes: CompiledRoute[];
  private readonly startedAt = Math.floor(Date.now() / 1000);

  constructor(
    models: ModelConfig[],
    providers: Map<string, ProviderConfig>,
    createAdapter: (provider: ProviderConfig) => ModelAdapter,
  ) {
    const adapters = new Map<string, ModelAdapter>();
    this.routes = models.map((config) => {
      const provider = providers.get(config.provider);
      if (!provider) throw new Error(`Model '${config.name}' names unknown provider '${config.provider}'.`);
      let adapter = adapters.get(provider.name);
      if (!adapter) {
        adapter = createAdapter(provider);
        adapters.set(provider.name, adapter);
      }
      return { config, provider, adapter, pattern: config.name.includes('*') ? wildcardPattern(config.name) : null };
    });
  }

  resolve(model: string): ModelRoute | null {
    const route = this.routes.find((candidate) =>
      candidate.pattern ? candidate.pattern.test(model) : candidate.config.name === model,
    );
    if (!route) return null;
    return {
      publicName: model,
      providerName: route.provider.name,
      upstreamModel: route.config.upstreamModel ?? model,
      contextWindow: route.config.contextWindow ?? route.provider.contextWindow,
      adapter: route.adapter,
    };
  }

  list(): RoutedModel[] {
    return this.routes.map((route) => ({
      id: route.config.name,
      ownedBy: route.provider.name,
      createdAt: this.startedAt,
    }));
  }
}

function wildcardPattern(name: string): RegExp {
  const escaped = name.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`);
}
