// A single response, then the same thing streamed.   node examples/basic-response.ts
import { client, model } from './client.ts';

const response = await client.responses.create({ model, instructions: 'Answer in one sentence.', input: 'What is Riposte?' });
console.log(response.output_text);

const stream = client.responses.stream({ model, input: 'Count from one to five.' });
for await (const event of stream) {
  if (event.type === 'response.output_text.delta') process.stdout.write(event.delta);
}
console.log('\nusage:', (await stream.finalResponse()).usage);
