import type { FastifyInstance } from 'fastify';
import { modelNotFound } from '../../errors/api-error.ts';
import type { ModelRouter, RoutedModel } from '../../engine/model-router.ts';

function toModelObject(model: RoutedModel): { id: string; object: 'model'; created: number; owned_by: string } {
  return { id: model.id, object: 'model', created: model.createdAt, owned_by: model.ownedBy };
}

/** `GET /v1/models` lists what the config routes; `GET /v1/models/{id}` answers for any name a route serves. */
export function registerModelRoutes(app: FastifyInstance, router: ModelRouter): void {
  app.get('/v1/models', async () => ({ object: 'list', data: router.list().map(toModelObject) }));

  app.get<{ Params: { id: string } }>('/v1/models/*', async (request) => {
    const id = (request.params as Record<string, string>)['*'] ?? '';
    const route = router.resolve(id);
    if (!route) throw modelNotFound(id);
    const listed = router.list().find((model) => model.id === id);
    return toModelObject(listed ?? { id, ownedBy: route.providerName, createdAt: 0 });
  });
}
