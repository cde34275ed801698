// Stored responses: retrieve, list input items, delete.   node examples/stored-responses.ts
import { client, model } from './client.ts';

const response = await client.responses.create({ model, input: [{ role: 'user', content: 'Remember the number 42.' }] });
const again = await client.responses.retrieve(response.id);
console.log(again.status, again.output_text);
for await (const item of client.responses.inputItems.list(response.id, { order: 'asc' })) console.log(item.type, item.id);
await client.responses.delete(response.id);
