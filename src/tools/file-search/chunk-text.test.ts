import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { TokenCounter } from '../../engine/count-tokens.ts';
import { ApiError } from '../../errors/api-error.ts';
import {
  DEFAULT_CHUNKING_STRATEGY,
  chunkText,
  loadChunkingTokenCounter,
  validateChunkingStrategy,
  type Chunk,
} from './chunk-text.ts';

let counter: TokenCounter;
before(async () => {
  counter = await loadChunkingTokenCounter();
});

/** Paragraphs of numbered sentences, so every piece of text is unique and findable. */
function document(paragraphs: number, sentences = 10): string {
  return Array.from({ length: paragraphs }, (_, paragraph) =>
    Array.from(
      { length: sentences },
      (_, sentence) => `Paragraph ${paragraph} sentence ${sentence} describes item ${paragraph * 100 + sentence}.`,
    ).join(' '),
  ).join('\n\n');
}

function checkOffsets(text: string, chunks: Chunk[]): void {
  chunks.forEach((chunk, index) => {
    assert.equal(chunk.index, index);
    assert.equal(text.slice(chunk.startCharacter, chunk.endCharacter), chunk.text);
    assert.equal(chunk.tokenCount, counter.countText(chunk.text));
    assert.equal(chunk.text, chunk.text.trim());
  });
}

describe('chunkText', () => {
  it('measures with cl100k_base, the encoding of OpenAI embedding models', () => {
    assert.equal(counter.encoding, 'cl100k_base');
  });

  it('gives no chunks for empty or blank text and one for text that fits', () => {
    assert.deepEqual(chunkText('', DEFAULT_CHUNKING_STRATEGY, counter), []);
    assert.deepEqual(chunkText(' \n\n\t ', DEFAULT_CHUNKING_STRATEGY, counter), []);
    const chunks = chunkText('  Hello, small world.\n', DEFAULT_CHUNKING_STRATEGY, counter);
    assert.deepEqual(chunks, [
      {
        index: 0,
        text: 'Hello, small world.',
        tokenCount: counter.countText('Hello, small world.'),
        startCharacter: 2,
        endCharacter: 21,
      },
    ]);
  });

  it('never exceeds the maximum, covers the whole text and overlaps as configured', () => {
    const text = document(40);
    for (const strategy of [
      DEFAULT_CHUNKING_STRATEGY,
      { maxChunkSizeTokens: 100, chunkOverlapTokens: 50 },
      { maxChunkSizeTokens: 300, chunkOverlapTokens: 0 },
      { maxChunkSizeTokens: 4096, chunkOverlapTokens: 2048 },
    ]) {
      const chunks = chunkText(text, strategy, counter);
      checkOffsets(text, chunks);
      assert.ok(chunks.length > 1, `${JSON.stringify(strategy)} made one chunk`);
      for (const chunk of chunks)
        assert.ok(chunk.tokenCount <= strategy.maxChunkSizeTokens, `${chunk.tokenCount} tokens`);
      assert.equal(chunks[0]!.startCharacter, 0);
      assert.equal(chunks.at(-1)!.endCharacter, text.length);
      for (let index = 1; index < chunks.length; index += 1) {
        const previous = chunks[index - 1]!;
        const current = chunks[index]!;
        assert.ok(current.startCharacter > previous.startCharacter, 'every chunk moves forward');
        if (strategy.chunkOverlapTokens === 0) {
          // Nothing shared, nothing but whitespace skipped.
          assert.ok(current.startCharacter >= previous.endCharacter);
          assert.equal(text.slice(previous.endCharacter, current.startCharacter).trim(), '');
        } else {
          const shared = counter.countText(text.slice(current.startCharacter, previous.endCharacter));
          // Overlaps are measured on per-word counts, which run a little above the exact count.
          assert.ok(shared <= strategy.chunkOverlapTokens * 1.02 + 2, `overlap of ${shared} tokens`);
          assert.ok(shared >= strategy.chunkOverlapTokens * 0.97 - 12, `overlap of only ${shared} tokens`);
        }
      }
    }
  });

  it('uses the default 800/400 windows by default', () => {
    const text = document(60);
    const chunks = chunkText(text, DEFAULT_CHUNKING_STRATEGY, counter);
    for (const chunk of chunks.slice(0, -1))
      assert.ok(chunk.tokenCount > 600 && chunk.tokenCount <= 800, `${chunk.tokenCount} tokens`);
    // About (total − 800) / 400 + 1 windows.
    const expected = Math.ceil((counter.countText(text) - 800) / 400) + 1;
    assert.ok(Math.abs(chunks.length - expected) <= 2, `${chunks.length} chunks, expected about ${expected}`);
  });

  it('prefers to end a chunk at a paragraph, then at a sentence', () => {
    // Paragraphs of about 45 tokens: one always ends in the last quarter of a 200-token window.
    const text = document(30, 4);
    const strategy = { maxChunkSizeTokens: 200, chunkOverlapTokens: 0 };
    for (const chunk of chunkText(text, strategy, counter).slice(0, -1)) {
      assert.match(chunk.text, /\.$/, 'ends at a sentence');
      assert.equal(text.slice(chunk.endCharacter, chunk.endCharacter + 2), '\n\n', 'ends at a paragraph');
    }
    const oneParagraph = document(1, 80);
    for (const chunk of chunkText(oneParagraph, strategy, counter).slice(0, -1)) assert.match(chunk.text, /\d\.$/);
  });

  it('cuts text without spaces (CJK, base64) within the maximum', () => {
    const cjk = '東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。'.repeat(80);
    const base64 = Buffer.from(Array.from({ length: 6000 }, (_, index) => (index * 131) % 256)).toString('base64');
    for (const text of [cjk, base64]) {
      const chunks = chunkText(text, { maxChunkSizeTokens: 100, chunkOverlapTokens: 20 }, counter);
      checkOffsets(text, chunks);
      assert.ok(chunks.length > 3);
      for (const chunk of chunks) assert.ok(chunk.tokenCount <= 100, `${chunk.tokenCount} tokens`);
    }
    // CJK chunks end at a full stop when one is near.
    for (const chunk of chunkText(cjk, { maxChunkSizeTokens: 100, chunkOverlapTokens: 0 }, counter).slice(0, -1)) {
      assert.match(chunk.text, /。$/);
    }
  });

  it('is deterministic', () => {
    const text = document(20);
    assert.deepEqual(
      chunkText(text, DEFAULT_CHUNKING_STRATEGY, counter),
      chunkText(text, DEFAULT_CHUNKING_STRATEGY, counter),
    );
  });

  it('refuses impossible settings from a caller', () => {
    assert.throws(() => chunkText('x', { maxChunkSizeTokens: 0, chunkOverlapTokens: 0 }, counter), RangeError);
    assert.throws(() => chunkText('x', { maxChunkSizeTokens: 100, chunkOverlapTokens: 100 }, counter), RangeError);
  });
});

describe('validateChunkingStrategy', () => {
  const auto = {
    strategy: { maxChunkSizeTokens: 800, chunkOverlapTokens: 400 },
    responseObject: { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } },
  };

  it('reads auto (given or absent) as 800/400, echoed as static', () => {
    assert.deepEqual(validateChunkingStrategy(undefined), auto);
    assert.deepEqual(validateChunkingStrategy(null), auto);
    assert.deepEqual(validateChunkingStrategy({ type: 'auto' }), auto);
  });

  it('reads static settings within the limits', () => {
    assert.deepEqual(
      validateChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 1000, chunk_overlap_tokens: 500 } }),
      {
        strategy: { maxChunkSizeTokens: 1000, chunkOverlapTokens: 500 },
        responseObject: { type: 'static', static: { max_chunk_size_tokens: 1000, chunk_overlap_tokens: 500 } },
      },
    );
    assert.equal(
      validateChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } })
        .strategy.maxChunkSizeTokens,
      100,
    );
    assert.equal(
      validateChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 4096, chunk_overlap_tokens: 2048 } })
        .strategy.chunkOverlapTokens,
      2048,
    );
  });

  const staticWith = (settings: Record<string, unknown>): unknown => ({ type: 'static', static: settings });
  const cases: Array<[string, unknown, string, string]> = [
    ['not an object', 'auto', 'chunking_strategy', 'invalid_type'],
    ['no type', {}, 'chunking_strategy.type', 'missing_required_parameter'],
    ['an unknown type', { type: 'semantic' }, 'chunking_strategy.type', 'invalid_value'],
    ['extra keys on auto', { type: 'auto', static: {} }, 'chunking_strategy.static', 'unknown_parameter'],
    ['static without settings', { type: 'static' }, 'chunking_strategy.static', 'missing_required_parameter'],
    ['settings not an object', { type: 'static', static: [] }, 'chunking_strategy.static', 'invalid_type'],
    [
      'an unknown setting',
      staticWith({ max_chunk_size_tokens: 800, chunk_overlap_tokens: 400, size: 1 }),
      'chunking_strategy.static.size',
      'unknown_parameter',
    ],
    [
      'no max',
      staticWith({ chunk_overlap_tokens: 10 }),
      'chunking_strategy.static.max_chunk_size_tokens',
      'missing_required_parameter',
    ],
    [
      'max below 100',
      staticWith({ max_chunk_size_tokens: 99, chunk_overlap_tokens: 10 }),
      'chunking_strategy.static.max_chunk_size_tokens',
      'integer_below_min_value',
    ],
    [
      'max above 4096',
      staticWith({ max_chunk_size_tokens: 4097, chunk_overlap_tokens: 10 }),
      'chunking_strategy.static.max_chunk_size_tokens',
      'integer_above_max_value',
    ],
    [
      'a fractional max',
      staticWith({ max_chunk_size_tokens: 800.5, chunk_overlap_tokens: 10 }),
      'chunking_strategy.static.max_chunk_size_tokens',
      'invalid_type',
    ],
    [
      'no overlap',
      staticWith({ max_chunk_size_tokens: 800 }),
      'chunking_strategy.static.chunk_overlap_tokens',
      'missing_required_parameter',
    ],
    [
      'a negative overlap',
      staticWith({ max_chunk_size_tokens: 800, chunk_overlap_tokens: -1 }),
      'chunking_strategy.static.chunk_overlap_tokens',
      'integer_below_min_value',
    ],
    [
      'an overlap above half',
      staticWith({ max_chunk_size_tokens: 801, chunk_overlap_tokens: 401 }),
      'chunking_strategy.static.chunk_overlap_tokens',
      'invalid_value',
    ],
    [
      'a string overlap',
      staticWith({ max_chunk_size_tokens: 800, chunk_overlap_tokens: '400' }),
      'chunking_strategy.static.chunk_overlap_tokens',
      'invalid_type',
    ],
  ];
  for (const [name, value, param, code] of cases) {
    it(`refuses ${name}, naming ${param}`, () => {
      assert.throws(
        () => validateChunkingStrategy(value),
        (error: unknown) =>
          error instanceof ApiError && error.status === 400 && error.param === param && error.code === code,
      );
    });
  }

  it('names params under the prefix it is given', () => {
    assert.throws(
      () =>
        validateChunkingStrategy(
          { type: 'static', static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } },
          'files[2].chunking_strategy',
        ),
      (error: unknown) =>
        error instanceof ApiError && error.param === 'files[2].chunking_strategy.static.max_chunk_size_tokens',
    );
  });
});
