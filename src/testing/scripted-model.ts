import type { ModelAdapter, ModelCapabilities, ModelEvent, ModelRequest } from '../providers/model-adapter.ts';

/**
 * One scripted turn: what the model does when it is called. A step is a list of events (a
 * `finish` is appended when missing), an error to throw, or a function of the request for
 * answers that depend on what the model was sent.
 */
export type ScriptedStep =
  | ModelEvent[]
  | { error: Error; afterEvents?: ModelEvent[] }
  | ((request: ModelRequest) => ModelEvent[] | Promise<ModelEvent[]>);

export interface ScriptedModelOptions {
  /** Milliseconds to wait before each event, to simulate a slow upstream. */
  delayMs?: number;
  capabilities?: Partial<ModelCapabilities>;
  /** When the script runs out: throw (default) or repeat the last step. */
  whenExhausted?: 'throw' | 'repeat-last';
}

/**
 * A ModelAdapter whose outputs a test writes step by step, recording every request it got.
 * Engine and route tests use it instead of ad-hoc fakes.
 */
export class ScriptedModel implements ModelAdapter {
  readonly capabilities: ModelCapabilities;
  /** Every request the engine sent, in order. */
  readonly requests: ModelRequest[] = [];
  private readonly steps: ScriptedStep[];
  private readonly delayMs: number;
  private readonly whenExhausted: 'throw' | 'repeat-last';

  constructor(steps: ScriptedStep[], options: ScriptedModelOptions = {}) {
    this.steps = [...steps];
    this.delayMs = options.delayMs ?? 0;
    this.whenExhausted = options.whenExhausted ?? 'throw';
    this.capabilities = { enforcesJsonSchema: false, enforcesStrictTools: false, ...options.capabilities };
  }

  /** Adds steps after construction (e.g. once a test knows a call id). */
  push(...steps: ScriptedStep[]): void {
    this.steps.push(...steps);
  }

  get lastRequest(): ModelRequest | undefined {
    return this.requests.at(-1);
  }

  async *stream(request: ModelRequest): AsyncIterable<ModelEvent> {
    this.requests.push(request);
    const step = this.nextStep();
    if (typeof step === 'function') {
      yield* this.emit(withFinish(await step(request)), request.signal);
      return;
    }
    if (Array.isArray(step)) {
      yield* this.emit(withFinish(step), request.signal);
      return;
    }
    yield* this.emit(step.afterEvents ?? [], request.signal);
    throw step.error;
  }

  private nextStep(): ScriptedStep {
    const step = this.whenExhausted === 'repeat-last' && this.steps.length === 1 ? this.steps[0] : this.steps.shift();
    if (step === undefined) throw new Error(`ScriptedModel: no step left for request ${this.requests.length}`);
    return step;
  }

  private async *emit(events: ModelEvent[], signal: AbortSignal): AsyncIterable<ModelEvent> {
    for (const event of events) {
      if (this.delayMs > 0) await sleep(this.delayMs, signal);
      signal.throwIfAborted();
      yield event;
    }
  }
}

/** Events for a plain text answer, split into deltas of a few characters. */
export function textAnswer(text: string, usage = { inputTokens: 10, outputTokens: 5 }): ModelEvent[] {
  const deltas = text.match(/[\s\S]{1,8}/g) ?? [];
  return [
    ...deltas.map((delta): ModelEvent => ({ type: 'text-delta', delta })),
    { type: 'usage', usage: { ...usage, cachedInputTokens: 0, reasoningTokens: 0 } },
    { type: 'finish', reason: 'stop' },
  ];
}

/** Events for one or more function calls in one turn. */
export function functionCalls(...calls: Array<{ callId: string; name: string; arguments: string }>): ModelEvent[] {
  return [
    ...calls.flatMap((call, index): ModelEvent[] => [
      { type: 'tool-call-start', index, callId: call.callId, name: call.name, kind: 'function' },
      { type: 'tool-call-delta', index, delta: call.arguments },
    ]),
    { type: 'finish', reason: 'tool_calls' },
  ];
}

function withFinish(events: ModelEvent[]): ModelEvent[] {
  return events.some((event) => event.type === 'finish') ? events : [...events, { type: 'finish', reason: 'stop' }];
}

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
