import type { ModelItem } from '../providers/model-adapter.ts';

/**
 * `truncation: "auto"`: drops the oldest items until the rest fits `budget` tokens, as OpenAI
 * describes it ("dropping items from the beginning of the conversation"). The rules:
 *
 * 1. The system and developer messages at the head (the instructions) are never dropped.
 * 2. The latest user message is never dropped: it is what the model is answering.
 * 3. Items are dropped in units, never alone: a tool call with its output (function and custom
 *    calls, matched by call id, wherever the output sits), and reasoning with the assistant item
 *    that follows it. Upstreams refuse a tool output whose call is gone, and a call without an
 *    output leaves the model thinking it is still waiting.
 * 4. Once anything is dropped, the kept conversation after the head starts with a user message
 *    (more units are dropped until it does): many chat templates (Mistral, Gemma, Llama 2)
 *    refuse a conversation whose first turn is the assistant's.
 *
 * Returns the kept items in their order — `items` itself when it already fits — or null when
 * even the head and the latest user message (the minimum) do not fit.
 *
 * `count` must be additive over items (dropping an item never raises the total), which every
 * token counter is; it is called O(log n) times plus once per unit dropped for rule 4.
 */
export function truncateItems(
  items: ModelItem[],
  budget: number,
  count: (items: ModelItem[]) => number,
): ModelItem[] | null {
  if (count(items) <= budget) return items;
  const units = groupIntoUnits(items);
  const droppable = units.filter((unit) => !unit.pinned);
  const keptAfterDropping = (dropCount: number): ModelItem[] => {
    const dropped = new Set<number>();
    for (const unit of droppable.slice(0, dropCount)) for (const index of unit.indices) dropped.add(index);
    return items.filter((_item, index) => !dropped.has(index));
  };

  // The fewest oldest units whose dropping makes the rest fit: a binary search, since the total
  // only falls as more are dropped.
  if (count(keptAfterDropping(droppable.length)) > budget) return null;
  let low = 1;
  let high = droppable.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (count(keptAfterDropping(middle)) <= budget) high = middle;
    else low = middle + 1;
  }

  let dropCount = low;
  let kept = keptAfterDropping(dropCount);
  const headLength = countHead(items);
  while (dropCount < droppable.length && !startsWithUser(kept, headLength)) {
    dropCount += 1;
    kept = keptAfterDropping(dropCount);
  }
  return kept;
}

interface Unit {
  /** Positions in the original list, ascending. */
  indices: number[];
  pinned: boolean;
}

function isInstruction(item: ModelItem): boolean {
  return item.type === 'message' && (item.role === 'system' || item.role === 'developer');
}

function isUserMessage(item: ModelItem): boolean {
  return item.type === 'message' && item.role === 'user';
}

/** Reasoning belongs to the assistant output it led to. */
function isAssistantOutput(item: ModelItem): boolean {
  return (
    item.type === 'function_call' ||
    item.type === 'custom_tool_call' ||
    (item.type === 'message' && item.role === 'assistant')
  );
}

/** The leading run of system and developer messages. */
function countHead(items: ModelItem[]): number {
  let length = 0;
  while (length < items.length && isInstruction(items[length] as ModelItem)) length += 1;
  return length;
}

/** Rule 4: the first kept item after the head is a user message (or nothing is). */
function startsWithUser(kept: ModelItem[], headLength: number): boolean {
  const first = kept[headLength];
  return first === undefined || isUserMessage(first);
}

/** The items as units that are kept or dropped whole, ordered by their first item. */
function groupIntoUnits(items: ModelItem[]): Unit[] {
  const headLength = countHead(items);
  let latestUser = -1;
  items.forEach((item, index) => {
    if (isUserMessage(item)) latestUser = index;
  });

  const units: Unit[] = [];
  const callUnits = new Map<string, Unit>();
  let pendingReasoning: number[] = [];
  items.forEach((item, index) => {
    if (index < headLength || index === latestUser) {
      // Reasoning followed by something that is not the model's own output stands alone.
      if (pendingReasoning.length > 0) units.push({ indices: pendingReasoning, pinned: false });
      units.push({ indices: [index], pinned: true });
      pendingReasoning = [];
      return;
    }
    if (item.type === 'reasoning') {
      pendingReasoning.push(index);
      return;
    }
    const reasoning = isAssistantOutput(item) ? pendingReasoning : [];
    if (reasoning.length === 0 && pendingReasoning.length > 0) {
      units.push({ indices: pendingReasoning, pinned: false });
    }
    pendingReasoning = [];

    if (item.type === 'function_call_output' || item.type === 'custom_tool_call_output') {
      const callUnit = callUnits.get(`${item.type.replace('_output', '')}:${item.callId}`);
      if (callUnit) {
        callUnit.indices.push(index);
        return;
      }
    }
    const unit: Unit = { indices: [...reasoning, index], pinned: false };
    if (item.type === 'function_call' || item.type === 'custom_tool_call') {
      callUnits.set(`${item.type}:${item.callId}`, unit);
    }
    units.push(unit);
  });
  if (pendingReasoning.length > 0) units.push({ indices: pendingReasoning, pinned: false });
  return units;
}
