import OpenAI from 'openai';

/** The official client pointed at Riposte (`RIPOSTE_BASE_URL`, default the local server). */
export const client = new OpenAI({
  baseURL: process.env.RIPOSTE_BASE_URL ?? 'http://127.0.0.1:8080/v1',
  apiKey: process.env.RIPOSTE_API_KEY ?? 'unused-without-keys',
});

/** The model name to ask for; any name the server routes. */
export const model = process.env.RIPOSTE_MODEL ?? 'qwen3:8b';
