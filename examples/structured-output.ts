// Structured Outputs: the answer is held to the schema on any model.   node examples/structured-output.ts
import { client, model } from './client.ts';

const response = await client.responses.parse({
  model,
  input: 'Invent a person with a name and an age.',
  text: {
    format: {
      type: 'json_schema',
      name: 'person',
      strict: true,
      schema: {
        type: 'object',
        properties: { name: { type: 'string' }, age: { type: 'integer' } },
        required: ['name', 'age'],
        additionalProperties: false,
      },
    },
  },
});
console.log(response.output_parsed);
