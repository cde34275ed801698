// A function-call round trip chained with previous_response_id.   node examples/function-calling.ts
import type OpenAI from 'openai';
import { client, model } from './client.ts';

const tools: OpenAI.Responses.Tool[] = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
    strict: true,
  },
];

const first = await client.responses.create({ model, input: 'What is the weather in Paris?', tools });
const outputs: OpenAI.Responses.ResponseInputItem[] = [];
for (const item of first.output) {
  if (item.type !== 'function_call') continue;
  const { city } = JSON.parse(item.arguments) as { city: string };
  outputs.push({ type: 'function_call_output', call_id: item.call_id, output: JSON.stringify({ city, sky: 'sunny', celsius: 21 }) });
}
const second = await client.responses.create({ model, previous_response_id: first.id, input: outputs, tools });
console.log(second.output_text);
