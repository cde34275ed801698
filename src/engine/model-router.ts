import type { ModelAdapter } from '../providers/model-adapter.ts';

/** Where one public model name is served. */
export interface ModelRoute {
  /** The name the client asked for, echoed in the response's `model`. */
  publicName: string;
  providerName: string;
  /** The model name sent upstream. */
  upstreamModel: string;
  /** Context window in tokens, for truncation and input token checks. */
  contextWindow: number;
  adapter: ModelAdapter;
}

/** What `GET /v1/models` lists: a configured name or pattern and who serves it. */
export interface RoutedModel {
  id: string;
  ownedBy: string;
  createdAt: number;
}

/** Maps public model names (wildcards allowed in config) to upstreams. */
export interface ModelRouter {
  /** The route for a model name, or null when nothing serves it. */
  resolve(model: string): ModelRoute | null;
  list(): RoutedModel[];
}
