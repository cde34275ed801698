import type { ModelRoute, ModelRouter, RoutedModel } from '../engine/model-router.ts';
import type { ModelAdapter } from '../providers/model-adapter.ts';

/** A router that serves the given model names from given adapters — for engine and route tests. */
export class StaticModelRouter implements ModelRouter {
  private readonly adapters: Map<string, ModelAdapter>;
  private readonly contextWindow: number;

  constructor(adapters: Record<string, ModelAdapter>, options: { contextWindow?: number } = {}) {
    this.adapters = new Map(Object.entries(adapters));
    this.contextWindow = options.contextWindow ?? 128_000;
  }

  resolve(model: string): ModelRoute | null {
    const adapter = this.adapters.get(model);
    if (!adapter) return null;
    return {
      publicName: model,
      providerName: 'scripted',
      upstreamModel: `upstream-${model}`,
      contextWindow: this.contextWindow,
      adapter,
    };
  }

  list(): RoutedModel[] {
    return [...this.adapters.keys()].map((id) => ({ id, ownedBy: 'scripted', createdAt: 0 }));
  }
}
