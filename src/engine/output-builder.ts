import type { ModelEvent } from '../providers/model-adapter.ts';
import type {
  CustomToolCallItem,
  FunctionCallItem,
  ItemStatus,
  OutputItem,
  OutputMessageItem,
  OutputTextContent,
  ReasoningItem,
  RefusalContent,
} from '../wire/response-types.ts';
import { REASONING_PURPOSE } from './convert-items.ts';
import { cloneJson } from './clone-json.ts';
import { createId } from './ids.ts';
import type { OfferedTools } from './offered-tools.ts';
import type { ContentSealer } from './sealed-content.ts';

/** A stream event before the engine stamps its `sequence_number`. */
export type EventPayload = { type: string } & Record<string, unknown>;

interface OpenMessage {
  outputIndex: number;
  item: OutputMessageItem;
  /** The content part being written, with its index in `item.content`. */
  part: { index: number; content: OutputTextContent | RefusalContent } | null;
}

interface OpenReasoning {
  outputIndex: number;
  item: ReasoningItem;
  text: string;
  summary: string;
  contentOpen: boolean;
  summaryOpen: boolean;
}

interface OpenToolCall {
  outputIndex: number;
  item: FunctionCallItem | CustomToolCallItem;
  text: string;
}

export interface OutputBuilderOptions {
  offered: OfferedTools;
  /** Put sealed reasoning in `encrypted_content` (include: reasoning.encrypted_content). */
  includeEncryptedReasoning: boolean;
  sealer: ContentSealer;
  owner: string;
}

/**
 * Turns model events into Responses stream events and the output items they describe, keeping
 * `output_index`, `content_index` and `item_id` consistent from `added` to `done`. One builder
 * serves a whole response, across model calls.
 */
export class OutputBuilder {
  readonly output: OutputItem[] = [];
  private message: OpenMessage | null = null;
  private reasoning: OpenReasoning | null = null;
  private readonly toolCalls = new Map<number, OpenToolCall>();
  private readonly options: OutputBuilderOptions;

  constructor(options: OutputBuilderOptions) {
    this.options = options;
  }

  /** The text of every output_text part, joined — the Response's `output_text`. */
  get outputText(): string {
    let text = '';
    for (const item of this.output) {
      if (item.type !== 'message') continue;
      for (const part of item.content) if (part.type === 'output_text') text += part.text;
    }
    return text;
  }

  accept(event: ModelEvent): EventPayload[] {
    switch (event.type) {
      case 'text-delta':
        return this.textDelta(event.delta, 'output_text');
      case 'refusal-delta':
        return this.textDelta(event.delta, 'refusal');
      case 'reasoning-delta':
        return this.reasoningDelta(event.delta, 'text');
      case 'reasoning-summary-delta':
        return this.reasoningDelta(event.delta, 'summary');
      case 'tool-call-start':
        return this.toolCallStart(event.index, event.callId, event.name, event.kind);
      case 'tool-call-delta':
        return this.toolCallDelta(event.index, event.delta);
      case 'usage':
      case 'finish':
        return [];
    }
  }

  /** Adds an item that is complete as it is (a compaction), with its `added` and `done` events. */
  addCompleteItem(item: OutputItem): EventPayload[] {
    const outputIndex = this.output.length;
    this.output.push(item);
    return [
      { type: 'response.output_item.added', output_index: outputIndex, item: cloneJson(item) },
      { type: 'response.output_item.done', output_index: outputIndex, item: cloneJson(item) },
    ];
  }

  /** Adds an item the engine fills itself (a built-in tool call); close it with `closeItem`. */
  openItem(item: OutputItem): { outputIndex: number; events: EventPayload[] } {
    const outputIndex = this.output.length;
    this.output.push(item);
    return { outputIndex, events: [{ type: 'response.output_item.added', output_index: outputIndex, item: cloneJson(item) }] };
  }

  closeItem(outputIndex: number): EventPayload[] {
    return [{ type: 'response.output_item.done', output_index: outputIndex, item: cloneJson(this.output[outputIndex]) }];
  }

  /**
   * A `file_citation` annotation at the current end of the text being written (opening the
   * message and its text part if the citation comes first).
   */
  addCitation(fileId: string, filename: string): EventPayload[] {
    const events = [...this.closeReasoning('completed'), ...this.closeToolCalls('completed')];
    const message = this.message ?? this.openMessage(events);
    if (!message.part || message.part.content.type !== 'output_text') {
      events.push(...this.closePart(message));
      const content: OutputTextContent = { type: 'output_text', text: '', annotations: [], logprobs: [] };
      message.part = { index: message.item.content.length, content };
      message.item.content.push(content);
      events.push({ type: 'response.content_part.added', ...this.partLocation(message), part: cloneJson(content) });
    }
    const part = message.part.content as OutputTextContent;
    const annotation = { type: 'file_citation', file_id: fileId, filename, index: part.text.length };
    part.annotations.push(annotation);
    events.push({
      type: 'response.output_text.annotation.added',
      ...this.partLocation(message),
      annotation_index: part.annotations.length - 1,
      annotation,
    });
    return events;
  }

  /** Closes every open item, marking them `completed` or (cut short) `incomplete`. */
  finish(status: ItemStatus): EventPayload[] {
    return [...this.closeReasoning(status), ...this.closeMessage(status), ...this.closeToolCalls(status)];
  }

  private textDelta(delta: string, kind: 'output_text' | 'refusal'): EventPayload[] {
    const events = [...this.closeReasoning('completed'), ...this.closeToolCalls('completed')];
    const message = this.message ?? this.openMessage(events);
    if (message.part && message.part.content.type !== kind) events.push(...this.closePart(message));
    if (!message.part) {
      const content: OutputTextContent | RefusalContent =
        kind === 'output_text'
          ? { type: 'output_text', text: '', annotations: [], logprobs: [] }
          : { type: 'refusal', refusal: '' };
      message.part = { index: message.item.content.length, content };
      message.item.content.push(content);
      events.push({ type: 'response.content_part.added', ...this.partLocation(message), part: cloneJson(content) });
    }
    const part = message.part.content;
    if (part.type === 'output_text') {
      part.text += delta;
      events.push({ type: 'response.output_text.delta', ...this.partLocation(message), delta, logprobs: [] });
    } else {
      part.refusal += delta;
      events.push({ type: 'response.refusal.delta', ...this.partLocation(message), delta });
    }
    return events;
  }

  private openMessage(events: EventPayload[]): OpenMessage {
    const item: OutputMessageItem = {
      id: createId('msg'),
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [],
    };
    const message: OpenMessage = { outputIndex: this.output.length, item, part: null };
    this.output.push(item);
    this.message = message;
    events.push({
      type: 'response.output_item.added',
      output_index: message.outputIndex,
      item: { ...item, content: [] },
    });
    return message;
  }

  private partLocation(message: OpenMessage): { item_id: string; output_index: number; content_index: number } {
    return { item_id: message.item.id, output_index: message.outputIndex, content_index: message.part?.index ?? 0 };
  }

  private closePart(message: OpenMessage): EventPayload[] {
    if (!message.part) return [];
    const location = this.partLocation(message);
    const content = message.part.content;
    message.part = null;
    if (content.type === 'output_text') {
      return [
        { type: 'response.output_text.done', ...location, text: content.text, logprobs: [] },
        { type: 'response.content_part.done', ...location, part: cloneJson(content) },
      ];
    }
    return [
      { type: 'response.refusal.done', ...location, refusal: content.refusal },
      { type: 'response.content_part.done', ...location, part: cloneJson(content) },
    ];
  }

  private closeMessage(status: ItemStatus): EventPayload[] {
    const message = this.message;
    if (!message) return [];
    const events = this.closePart(message);
    message.item.status = status;
    this.message = null;
    events.push({
      type: 'response.output_item.done',
      output_index: message.outputIndex,
      item: cloneJson(message.item),
    });
    return events;
  }

  private reasoningDelta(delta: string, kind: 'text' | 'summary'): EventPayload[] {
    const events = [...this.closeMessage('completed'), ...this.closeToolCalls('completed')];
    let reasoning = this.reasoning;
    if (!reasoning) {
      const item: ReasoningItem = { id: createId('rs'), type: 'reasoning', summary: [], content: [] };
      reasoning = {
        outputIndex: this.output.length,
        item,
        text: '',
        summary: '',
        contentOpen: false,
        summaryOpen: false,
      };
      this.output.push(item);
      this.reasoning = reasoning;
      events.push({
        type: 'response.output_item.added',
        output_index: reasoning.outputIndex,
        item: cloneJson(item),
      });
    }
    const location = { item_id: reasoning.item.id, output_index: reasoning.outputIndex };
    if (kind === 'text') {
      if (!reasoning.contentOpen) {
        reasoning.contentOpen = true;
        events.push({
          type: 'response.content_part.added',
          ...location,
          content_index: 0,
          part: { type: 'reasoning_text', text: '' },
        });
      }
      reasoning.text += delta;
      events.push({ type: 'response.reasoning_text.delta', ...location, content_index: 0, delta });
    } else {
      if (!reasoning.summaryOpen) {
        reasoning.summaryOpen = true;
        events.push({
          type: 'response.reasoning_summary_part.added',
          ...location,
          summary_index: 0,
          part: { type: 'summary_text', text: '' },
        });
      }
      reasoning.summary += delta;
      events.push({ type: 'response.reasoning_summary_text.delta', ...location, summary_index: 0, delta });
    }
    return events;
  }

  private closeReasoning(status: ItemStatus): EventPayload[] {
    const reasoning = this.reasoning;
    if (!reasoning) return [];
    this.reasoning = null;
    const events: EventPayload[] = [];
    const location = { item_id: reasoning.item.id, output_index: reasoning.outputIndex };
    if (reasoning.contentOpen) {
      reasoning.item.content = [{ type: 'reasoning_text', text: reasoning.text }];
      events.push(
        { type: 'response.reasoning_text.done', ...location, content_index: 0, text: reasoning.text },
        {
          type: 'response.content_part.done',
          ...location,
          content_index: 0,
          part: { type: 'reasoning_text', text: reasoning.text },
        },
      );
    }
    if (reasoning.summaryOpen) {
      reasoning.item.summary = [{ type: 'summary_text', text: reasoning.summary }];
      events.push(
        { type: 'response.reasoning_summary_text.done', ...location, summary_index: 0, text: reasoning.summary },
        {
          type: 'response.reasoning_summary_part.done',
          ...location,
          summary_index: 0,
          part: { type: 'summary_text', text: reasoning.summary },
        },
      );
    }
    if (this.options.includeEncryptedReasoning) {
      const sealed = reasoning.text || reasoning.summary;
      reasoning.item.encrypted_content = this.options.sealer.seal(REASONING_PURPOSE, this.options.owner, sealed);
    }
    if (status === 'incomplete') reasoning.item.status = 'incomplete';
    events.push({
      type: 'response.output_item.done',
      output_index: reasoning.outputIndex,
      item: cloneJson(reasoning.item),
    });
    return events;
  }

  private toolCallStart(index: number, callId: string, modelName: string, kind: 'function' | 'custom'): EventPayload[] {
    const events = [...this.closeReasoning('completed'), ...this.closeMessage('completed')];
    const offered = this.options.offered.byModelName.get(modelName);
    const name = offered?.name ?? modelName;
    const namespace = offered?.namespace ?? null;
    const item: FunctionCallItem | CustomToolCallItem =
      (offered?.kind ?? kind) === 'custom'
        ? { id: createId('ctc'), type: 'custom_tool_call', status: 'in_progress', call_id: callId, name, input: '' }
        : { id: createId('fc'), type: 'function_call', status: 'in_progress', call_id: callId, name, arguments: '' };
    if (namespace) item.namespace = namespace;
    const call: OpenToolCall = { outputIndex: this.output.length, item, text: '' };
    this.output.push(item);
    this.toolCalls.set(index, call);
    events.push({ type: 'response.output_item.added', output_index: call.outputIndex, item: { ...item } });
    return events;
  }

  private toolCallDelta(index: number, delta: string): EventPayload[] {
    const call = this.toolCalls.get(index);
    if (!call) return [];
    call.text += delta;
    const location = { item_id: call.item.id, output_index: call.outputIndex };
    return call.item.type === 'function_call'
      ? [{ type: 'response.function_call_arguments.delta', ...location, delta }]
      : [{ type: 'response.custom_tool_call_input.delta', ...location, delta }];
  }

  private closeToolCalls(status: ItemStatus): EventPayload[] {
    const events: EventPayload[] = [];
    for (const call of [...this.toolCalls.values()].sort((a, b) => a.outputIndex - b.outputIndex)) {
      const location = { item_id: call.item.id, output_index: call.outputIndex };
      call.item.status = status;
      if (call.item.type === 'function_call') {
        call.item.arguments = call.text;
        events.push({
          type: 'response.function_call_arguments.done',
          ...location,
          name: call.item.name,
          arguments: call.text,
        });
      } else {
        call.item.input = call.text;
        events.push({ type: 'response.custom_tool_call_input.done', ...location, input: call.text });
      }
      events.push({
        type: 'response.output_item.done',
        output_index: call.outputIndex,
        item: cloneJson(call.item),
      });
    }
    this.toolCalls.clear();
    return events;
  }
}
