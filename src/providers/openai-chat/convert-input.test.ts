import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelRequest as baseRequest, type ModelItem, type ModelRequest } from '../model-adapter.ts';
import { convertItems, convertRequest } from './convert-input.ts';

function modelRequest(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return baseRequest({
    model: 'llama3.1:8b',
    items: [{ type: 'message', role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    signal: new AbortController().signal,
    ...overrides,
  });
}

const userText = (text: string): ModelItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] });

describe('convertRequest', () => {
  it('leaves out every option that is not set, and tools with their companions when there are none', () => {
    assert.deepEqual(convertRequest(modelRequest(), { stream: true }), {
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.deepEqual(
      convertRequest(modelRequest({ toolChoice: 'required', parallelToolCalls: false }), { stream: false }),
      {
        model: 'llama3.1:8b',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: false,
      },
    );
  });

  it('maps sampling, reasoning and output options', () => {
    const body = convertRequest(
      modelRequest({
        textFormat: { type: 'json_object' },
        verbosity: 'high',
        reasoning: { effort: 'low', summary: 'auto' },
        temperature: 0,
        topP: 1,
        maxOutputTokens: 256,
        topLogprobs: 0,
        user: 'user-1',
        promptCacheKey: 'tenant-7',
      }),
      { stream: true },
    );
    assert.deepEqual(body, {
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'Hi' }],
      response_format: { type: 'json_object' },
      reasoning_effort: 'low',
      verbosity: 'high',
      temperature: 0,
      top_p: 1,
      max_tokens: 256,
      logprobs: true,
      top_logprobs: 0,
      user: 'user-1',
      prompt_cache_key: 'tenant-7',
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(
      'reasoning_effort' in
        convertRequest(modelRequest({ reasoning: { effort: null, summary: 'auto' } }), { stream: true }),
      false,
    );
  });

  it('maps a json_schema format, leaving out a null description', () => {
    const schema = {
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    };
    const body = convertRequest(
      modelRequest({ textFormat: { type: 'json_schema', name: 'answer', description: null, schema, strict: true } }),
      { stream: true },
    );
    assert.deepEqual(body.response_format, {
      type: 'json_schema',
      json_schema: { name: 'answer', schema, strict: true },
    });
  });

  it('offers function tools as they are and custom tools as a function of one string', () => {
    const body = convertRequest(
      modelRequest({
        tools: [
          {
            type: 'function',
            name: 'lookup',
            description: null,
            parameters: { type: 'object', properties: {} },
            strict: false,
          },
          {
            type: 'function',
            name: 'get_weather',
            description: 'Weather now.',
            parameters: { type: 'object' },
            strict: true,
          },
          {
            type: 'custom',
            name: 'run_sql',
            description: 'Runs SQL.',
            format: { type: 'grammar', syntax: 'lark', definition: 'start: "SELECT" /.+/' },
          },
          { type: 'custom', name: 'note', description: null, format: { type: 'text' } },
        ],
        toolChoice: { type: 'tool', name: 'run_sql' },
        parallelToolCalls: false,
      }),
      { stream: true },
    );
    assert.deepEqual(body.tools, [
      { type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } },
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather now.', parameters: { type: 'object' }, strict: true },
      },
      {
        type: 'function',
        function: {
          name: 'run_sql',
          description: 'Runs SQL.\n\nThe input must match this lark grammar:\nstart: "SELECT" /.+/',
          parameters: {
            type: 'object',
            properties: { input: { type: 'string', description: 'The raw input to the tool.' } },
            required: ['input'],
            additionalProperties: false,
          },
        },
      },
      {
        type: 'function',
        function: {
          name: 'note',
          parameters: {
            type: 'object',
            properties: { input: { type: 'string', description: 'The raw input to the tool.' } },
            required: ['input'],
            additionalProperties: false,
          },
        },
      },
    ]);
    assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'run_sql' } });
    assert.equal(body.parallel_tool_calls, false);
  });
});

describe('convertItems', () => {
  it('maps developer to system and joins text parts into a string', () => {
    assert.deepEqual(
      convertItems([
        { type: 'message', role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        {
          type: 'message',
          role: 'developer',
          content: [
            { type: 'text', text: 'Answer in French.' },
            { type: 'text', text: 'No emoji.' },
          ],
        },
        { type: 'message', role: 'user', content: [] },
      ]),
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Answer in French.\nNo emoji.' },
        { role: 'user', content: '' },
      ],
    );
  });

  it('sends content parts when a message has images or files', () => {
    assert.deepEqual(
      convertItems([
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image', url: 'https://example.com/a.png', detail: 'low' },
            { type: 'file', filename: 'report.pdf', data: 'JVBERi0xLjQK', url: null },
            { type: 'file', filename: null, data: 'data:text/csv;base64,YSxiCg==', url: null },
            { type: 'file', filename: 'remote.pdf', data: null, url: 'https://example.com/remote.pdf' },
          ],
        },
      ]),
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these.' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
            { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
            { type: 'file', file: { file_data: 'data:text/csv;base64,YSxiCg==' } },
            { type: 'file', file: { filename: 'remote.pdf', file_data: 'https://example.com/remote.pdf' } },
          ],
        },
      ],
    );
  });

  it('merges an assistant turn (text and consecutive calls) into one message, outputs into tool messages', () => {
    assert.deepEqual(
      convertItems([
        userText('Weather in Paris and Rome?'),
        { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Checking both.' }] },
        { type: 'function_call', callId: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', callId: 'call_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', callId: 'call_1', output: '18°C' },
        { type: 'function_call_output', callId: 'call_2', output: [{ type: 'text', text: '24°C' }] },
        { type: 'custom_tool_call', callId: 'call_3', name: 'run_sql', input: 'SELECT "x"' },
        { type: 'custom_tool_call_output', callId: 'call_3', output: '1 row' },
        { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Paris 18°C, Rome 24°C.' }] },
      ]),
      [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking both.',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: '24°C' },
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: 'call_3', type: 'function', function: { name: 'run_sql', arguments: '{"input":"SELECT \\"x\\""}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_3', content: '1 row' },
        { role: 'assistant', content: 'Paris 18°C, Rome 24°C.' },
      ],
    );
  });

  it('moves the images of a run of tool outputs into one user message after the last tool message', () => {
    assert.deepEqual(
      convertItems([
        { type: 'function_call', callId: 'call_1', name: 'screenshot', arguments: '{}' },
        { type: 'function_call', callId: 'call_2', name: 'screenshot', arguments: '{}' },
        {
          type: 'function_call_output',
          callId: 'call_1',
          output: [{ type: 'image', url: 'data:image/png;base64,AAAA', detail: 'auto' }],
        },
        {
          type: 'function_call_output',
          callId: 'call_2',
          output: [
            { type: 'text', text: 'Second screen:' },
            { type: 'image', url: 'data:image/png;base64,BBBB', detail: 'high' },
          ],
        },
      ]),
      [
        {
          role: 'assistant',
          content: '',
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } },
            { id: 'call_2', type: 'function', function: { name: 'screenshot', arguments: '{}' } },
          ],
        },
        {
          role: 'tool',
          tool_call_id: 'call_1',
          content: '(The tool returned images or files; they follow in the next user message.)',
        },
        { role: 'tool', tool_call_id: 'call_2', content: 'Second screen:' },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'auto' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,BBBB', detail: 'high' } },
          ],
        },
      ],
    );
  });

  it('sends reasoning back only on assistant messages of the current turn, and drops reasoning with no output', () => {
    assert.deepEqual(
      convertItems([
        userText('First question'),
        { type: 'reasoning', text: 'Old thoughts.' },
        { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'First answer' }] },
        userText('Second question'),
        { type: 'reasoning', text: 'Need the tool.' },
        { type: 'function_call', callId: 'call_9', name: 'search', arguments: '{"q":"x"}' },
        { type: 'function_call_output', callId: 'call_9', output: 'found' },
        { type: 'reasoning', text: 'Nothing came of this.' },
      ]),
      [
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: 'Second question' },
        {
          role: 'assistant',
          content: '',
          reasoning_content: 'Need the tool.',
          tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_9', content: 'found' },
      ],
    );
  });
});
