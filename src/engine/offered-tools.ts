import { invalidRequest } from '../errors/api-error.ts';
import type { ModelTool, ModelToolChoice } from '../providers/model-adapter.ts';
import {
  FILE_SEARCH_TOOL_NAME,
  fileSearchModelTool,
  readFileSearchSettings,
  type FileSearchSettings,
} from '../tools/file-search/file-search-tool.ts';
import type { RequestTool, ToolChoice } from './create-response-request.ts';

/** What a function or custom tool the model may call is, once namespaces are flattened. */
export interface OfferedTool {
  /** The name the model sees (namespace and name joined). */
  modelName: string;
  name: string;
  namespace: string | null;
  kind: 'function' | 'custom';
  /** Arguments schema, when the tool is a strict function whose arguments Riposte must hold to it. */
  strictSchema: Record<string, unknown> | null;
  /** Set for built-in tools the engine runs itself (the model's call never reaches the client). */
  serverTool: 'file_search' | null;
  tool: ModelTool;
}

export interface OfferedTools {
  tools: OfferedTool[];
  toolChoice: ModelToolChoice;
  byModelName: Map<string, OfferedTool>;
  /** The request's file_search tool, when it has one. */
  fileSearch: FileSearchSettings | null;
}

/** Separator between a namespace and a tool name in the name the model sees. */
const NAMESPACE_SEPARATOR = '__';

export function qualifiedToolName(namespace: string | null | undefined, name: string): string {
  return namespace ? `${namespace}${NAMESPACE_SEPARATOR}${name}` : name;
}

/**
 * Built-in tools Riposte does not run yet. They are refused rather than dropped, so a client never
 * believes a search or a sandbox ran when it did not.
 */
function refuseBuiltInTool(tool: RequestTool, index: number): never {
  throw invalidRequest(
    `tools[${index}].type`,
    `The built-in tool '${tool.type}' is not supported by this server yet; remove it from 'tools' or use a function tool.`,
    'unsupported_tool',
  );
}

/**
 * Turns the request's `tools` and `tool_choice` into what the model is offered: function and
 * custom tools as they are, the inner tools of `namespace` tools flattened, `allowed_tools`
 * narrowing the list.
 */
export function offerTools(requestTools: RequestTool[], toolChoice: ToolChoice): OfferedTools {
  const tools: OfferedTool[] = [];
  let fileSearch: FileSearchSettings | null = null;
  requestTools.forEach((tool, index) => {
    switch (tool.type) {
      case 'function':
      case 'custom':
        tools.push(offerOne(tool, null));
        return;
      case 'file_search':
        if (fileSearch) throw invalidRequest(`tools[${index}]`, 'Only one file_search tool may be given.');
        fileSearch = readFileSearchSettings(tool, `tools[${index}]`);
        tools.push({
          modelName: FILE_SEARCH_TOOL_NAME,
          name: FILE_SEARCH_TOOL_NAME,
          namespace: null,
          kind: 'function',
          strictSchema: (fileSearchModelTool as { parameters: Record<string, unknown> }).parameters,
          serverTool: 'file_search',
          tool: fileSearchModelTool,
        });
        return;
      case 'namespace':
        for (const inner of tool.tools as RequestTool[]) tools.push(offerOne(inner, tool.name as string));
        return;
      case 'web_search':
      case 'web_search_2025_08_26':
        // external_web_access: false promises no live access; with no search backend the tool is
        // simply not offered (Codex CLI sends it on every turn).
        if (tool.external_web_access === false) return;
        refuseBuiltInTool(tool, index);
        return;
      default:
        refuseBuiltInTool(tool, index);
    }
  });
  const byModelName = new Map(tools.map((tool) => [tool.modelName, tool]));
  return { ...narrowByChoice(tools, byModelName, toolChoice), fileSearch };
}

function offerOne(tool: RequestTool, namespace: string | null): OfferedTool {
  const name = tool.name as string;
  const modelName = qualifiedToolName(namespace, name);
  const description = typeof tool.description === 'string' ? tool.description : null;
  if (tool.type === 'custom') {
    const format = (tool.format as Record<string, unknown> | undefined) ?? null;
    return {
      modelName,
      name,
      namespace,
      kind: 'custom',
      strictSchema: null,
      serverTool: null,
      tool: { type: 'custom', name: modelName, description, format },
    };
  }
  const parameters = (tool.parameters as Record<string, unknown> | null | undefined) ?? {
    type: 'object',
    properties: {},
  };
  const strict = tool.strict !== false;
  return {
    modelName,
    name,
    namespace,
    kind: 'function',
    strictSchema: strict ? parameters : null,
    serverTool: null,
    tool: { type: 'function', name: modelName, description, parameters, strict },
  };
}

function narrowByChoice(
  tools: OfferedTool[],
  byModelName: Map<string, OfferedTool>,
  toolChoice: ToolChoice,
): Omit<OfferedTools, 'fileSearch'> {
  if (typeof toolChoice === 'string') return { tools, byModelName, toolChoice };
  if (toolChoice.type === 'function' || toolChoice.type === 'custom') {
    const name = qualifiedToolName(
      (toolChoice as Record<string, unknown>).namespace as string | undefined,
      toolChoice.name as string,
    );
    if (!byModelName.has(name)) {
      throw invalidRequest('tool_choice', `Tool choice '${toolChoice.type}' names '${name}', which is not in 'tools'.`);
    }
    return { tools, byModelName, toolChoice: { type: 'tool', name } };
  }
  if (toolChoice.type === 'allowed_tools') {
    const allowed = new Set(
      (toolChoice.tools as Array<Record<string, unknown>>).map((entry) =>
        entry.type === 'file_search'
          ? FILE_SEARCH_TOOL_NAME
          : qualifiedToolName(entry.namespace as string | undefined, String(entry.name)),
      ),
    );
    const narrowed = tools.filter((tool) => allowed.has(tool.modelName));
    return { tools: narrowed, byModelName, toolChoice: toolChoice.mode === 'required' ? 'required' : 'auto' };
  }
  if (toolChoice.type === 'file_search' && byModelName.has(FILE_SEARCH_TOOL_NAME)) {
    return { tools, byModelName, toolChoice: { type: 'tool', name: FILE_SEARCH_TOOL_NAME } };
  }
  throw invalidRequest(
    'tool_choice',
    `Tool choice '${toolChoice.type}' names a built-in tool this server does not run.`,
    'unsupported_tool',
  );
}
