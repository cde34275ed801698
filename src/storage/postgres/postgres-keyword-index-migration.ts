import type { PostgresMigration } from './migrations.ts';

/**
 * What BM25 needs, kept in step with vector_store_chunks by triggers, so keyword search reads a
 * few index ranges instead of every matching chunk's tsvector (ts_rank_cd, which it replaces,
 * had no IDF and detoasted each match).
 *
 * - vector_store_postings: one row per (store, lexeme, file) listing the file's chunks that hold
 *   the lexeme, with each one's term frequency and length. Chunks arrive and leave a file at a
 *   time (completeFile, re-attach, detach, delete), so a file's postings are written together;
 *   one row per file rather than per chunk keeps a common lexeme to a row per file, which is what
 *   a query reads. The lexemes, stemming and stop words are search_vector's (english).
 * - vector_store_keyword_stats: per store, the chunk count and total length (N and the average
 *   length); df is summed from the postings at query time.
 *
 * A chunk's length is its number of positions (words that are not stop words); a tsvector keeps
 * at most 256 positions of one lexeme, so term frequencies stop there.
 *
 * Statement-level triggers with transition tables rebuild the postings of each (store, file)
 * touched by a statement from the chunks it then holds, so the outcome does not depend on the
 * order in which one statement's delete and insert triggers fire (completeFile deletes and
 * inserts in one statement). Two ingestions into one store never write the same postings rows
 * (they differ by file); the one row they share, the store's stats, is taken once per statement
 * and in store order, so they queue rather than deadlock. Stats are not tied to vector_stores by a
 * foreign key: its check would lock the store row while the chunk's file row is held, the reverse
 * of the order in which deleting a store takes them. A statement trigger on vector_stores drops
 * a deleted store's stats instead.
 *
 * The GIN index on search_vector goes: keyword search no longer reads it, and ingestion no
 * longer pays for it.
 */
export const postgresKeywordIndexMigration: PostgresMigration = {
  version: 21,
  name: 'BM25 postings and per-store statistics for keyword search',
  sql: `
    -- Chunks written while the backfill runs would miss their postings: hold writers off until
    -- the triggers exist (readers go on).
    LOCK TABLE vector_store_chunks IN SHARE ROW EXCLUSIVE MODE;

    CREATE TABLE vector_store_postings (
      vector_store_id text NOT NULL,
      lexeme text NOT NULL,
      file_id text NOT NULL,
      -- Parallel arrays: the i-th chunk, its term frequency, its length.
      chunk_ids bigint[] NOT NULL,
      term_frequencies integer[] NOT NULL,
      chunk_lengths integer[] NOT NULL,
      PRIMARY KEY (vector_store_id, lexeme, file_id)
    );
    CREATE INDEX vector_store_postings_by_file ON vector_store_postings (vector_store_id, file_id);

    CREATE TABLE vector_store_keyword_stats (
      vector_store_id text PRIMARY KEY,
      chunk_count bigint NOT NULL,
      total_length bigint NOT NULL
    );

    -- A chunk's length for BM25: its positions (a stripped vector has none; each lexeme counts once).
    CREATE FUNCTION vector_store_chunk_length(search_vector tsvector) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT coalesce(sum(coalesce(cardinality(entry.positions), 1)), 0)::integer FROM unnest(search_vector) AS entry);

    -- Rebuilds the postings of the given (store, file) pairs from the chunks they hold now, in
    -- one pass over their lexemes (the window sums a chunk's length). The three arrays of a row
    -- line up because every aggregate of a group takes the group's rows in the same order.
    CREATE FUNCTION vector_store_postings_rebuild(store_ids text[], file_ids text[]) RETURNS void
    LANGUAGE sql AS $$
      DELETE FROM vector_store_postings AS posting
      USING (SELECT DISTINCT * FROM unnest(store_ids, file_ids) AS pair (vector_store_id, file_id)) AS pair
      WHERE posting.vector_store_id = pair.vector_store_id AND posting.file_id = pair.file_id;
      INSERT INTO vector_store_postings (vector_store_id, lexeme, file_id, chunk_ids, term_frequencies, chunk_lengths)
      SELECT vector_store_id, lexeme, file_id, array_agg(chunk_id), array_agg(term_frequency), array_agg(chunk_length)
      FROM (
        SELECT chunk.vector_store_id, entry.lexeme, chunk.file_id, chunk.id AS chunk_id,
          coalesce(cardinality(entry.positions), 1) AS term_frequency,
          sum(coalesce(cardinality(entry.positions), 1)) OVER (PARTITION BY chunk.id)::integer AS chunk_length
        FROM (SELECT DISTINCT * FROM unnest(store_ids, file_ids) AS pair (vector_store_id, file_id)) AS pair
        JOIN vector_store_chunks AS chunk ON chunk.vector_store_id = pair.vector_store_id AND chunk.file_id = pair.file_id
        CROSS JOIN LATERAL unnest(chunk.search_vector) AS entry
      ) AS posting
      GROUP BY vector_store_id, lexeme, file_id;
    $$;

    -- Adds (sign 1) or takes away (sign -1) chunks from their stores' stats, rows locked in store
    -- order. Only adding creates a row; taking away from a store already deleted is a no-op.
    CREATE FUNCTION vector_store_keyword_stats_add(sign integer, store_ids text[], lengths integer[]) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
      IF sign > 0 THEN
        INSERT INTO vector_store_keyword_stats AS stats (vector_store_id, chunk_count, total_length)
        SELECT chunk.vector_store_id, count(*), sum(chunk.length)
        FROM unnest(store_ids, lengths) AS chunk (vector_store_id, length)
        GROUP BY chunk.vector_store_id ORDER BY chunk.vector_store_id
        ON CONFLICT (vector_store_id) DO UPDATE SET
          chunk_count = stats.chunk_count + excluded.chunk_count,
          total_length = stats.total_length + excluded.total_length;
      ELSE
        PERFORM 1 FROM vector_store_keyword_stats
        WHERE vector_store_id = ANY (store_ids) ORDER BY vector_store_id FOR UPDATE;
        UPDATE vector_store_keyword_stats AS stats SET
          chunk_count = stats.chunk_count - removed.chunk_count,
          total_length = stats.total_length - removed.total_length
        FROM (
          SELECT chunk.vector_store_id, count(*) AS chunk_count, sum(chunk.length) AS total_length
          FROM unnest(store_ids, lengths) AS chunk (vector_store_id, length) GROUP BY chunk.vector_store_id
        ) AS removed
        WHERE stats.vector_store_id = removed.vector_store_id;
      END IF;
    END;
    $$;

    -- Counts chunks in (sign 1) or out (sign -1) of their stores' stats and rebuilds the postings
    -- of their files.
    CREATE FUNCTION vector_store_chunks_counted(sign integer, chunks vector_store_chunks[]) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
      store_ids text[];
      file_ids text[];
      lengths integer[];
    BEGIN
      SELECT array_agg(chunk.vector_store_id), array_agg(chunk.file_id),
        array_agg(vector_store_chunk_length(chunk.search_vector))
      INTO store_ids, file_ids, lengths FROM unnest(chunks) AS chunk;
      IF store_ids IS NULL THEN RETURN; END IF;
      PERFORM vector_store_keyword_stats_add(sign, store_ids, lengths);
      PERFORM vector_store_postings_rebuild(store_ids, file_ids);
    END;
    $$;

    -- One function for the three statement triggers: a transition table is only read by the
    -- operation that has it. Riposte never updates a chunk; a hand-made update still keeps the
    -- postings right (out with the old rows, in with the new).
    CREATE FUNCTION vector_store_chunks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM vector_store_chunks_counted(-1, ARRAY(SELECT old_chunks::vector_store_chunks FROM old_chunks));
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM vector_store_chunks_counted(1, ARRAY(SELECT new_chunks::vector_store_chunks FROM new_chunks));
      END IF;
      RETURN NULL;
    END;
    $$;

    CREATE FUNCTION vector_stores_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM vector_store_keyword_stats WHERE vector_store_id IN (SELECT id FROM old_stores);
      RETURN NULL;
    END;
    $$;

    CREATE TRIGGER vector_store_chunks_inserted AFTER INSERT ON vector_store_chunks
      REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION vector_store_chunks_changed();
    CREATE TRIGGER vector_store_chunks_deleted AFTER DELETE ON vector_store_chunks
      REFERENCING OLD TABLE AS old_chunks FOR EACH STATEMENT EXECUTE FUNCTION vector_store_chunks_changed();
    CREATE TRIGGER vector_store_chunks_updated AFTER UPDATE ON vector_store_chunks
      REFERENCING OLD TABLE AS old_chunks NEW TABLE AS new_chunks
      FOR EACH STATEMENT EXECUTE FUNCTION vector_store_chunks_changed();
    CREATE TRIGGER vector_stores_deleted AFTER DELETE ON vector_stores
      REFERENCING OLD TABLE AS old_stores FOR EACH STATEMENT EXECUTE FUNCTION vector_stores_deleted();

    -- The chunks stored before this migration.
    INSERT INTO vector_store_keyword_stats (vector_store_id, chunk_count, total_length)
    SELECT vector_store_id, count(*), sum(vector_store_chunk_length(search_vector))
    FROM vector_store_chunks GROUP BY vector_store_id;
    SELECT vector_store_postings_rebuild(array_agg(vector_store_id), array_agg(file_id))
    FROM (SELECT DISTINCT vector_store_id, file_id FROM vector_store_chunks) AS pair;

    DROP INDEX vector_store_chunks_search;
  `,
};
