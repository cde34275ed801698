/** A source the model may cite as [n] (1-based, in the order the results were given). */
export interface CitableSource {
  fileId: string;
  filename: string;
}

export interface FilteredText {
  /** Text to emit, markers removed. */
  text: string;
  /** Citations found, each at its offset within `text`. */
  citations: Array<{ offset: number; source: CitableSource }>;
}

const MAX_MARKER_LENGTH = 6;

/**
 * Removes `[n]` citation markers from streamed text and reports them as citations, so the text
 * the client sees is clean and the citations become `file_citation` annotations. Works across
 * delta boundaries: a `[` that may start a marker is held until the marker is complete or
 * proves not to be one.
 */
export class CitationFilter {
  private readonly sources: CitableSource[];
  private pending = '';

  constructor(sources: CitableSource[]) {
    this.sources = sources;
  }

  push(delta: string): FilteredText {
    return this.scan(this.pending + delta, false);
  }

  /** Whatever is still held back, at the end of the text. */
  flush(): FilteredText {
    return this.scan(this.pending, true);
  }

  private scan(input: string, final: boolean): FilteredText {
    let text = '';
    const citations: FilteredText['citations'] = [];
    let position = 0;
    this.pending = '';
    while (position < input.length) {
      const open = input.indexOf('[', position);
      if (open === -1) {
        text += input.slice(position);
        break;
      }
      text += input.slice(position, open);
      const close = input.indexOf(']', open);
      if (close === -1) {
        const tail = input.slice(open);
        if (!final && tail.length < MAX_MARKER_LENGTH && /^\[\d*$/.test(tail)) {
          this.pending = tail;
          return { text, citations };
        }
        text += tail;
        break;
      }
      const marker = input.slice(open + 1, close);
      const number = /^\d{1,4}$/.test(marker) ? Number(marker) : NaN;
      const source = this.sources[number - 1];
      if (source) {
        citations.push({ offset: text.length, source });
      } else {
        text += input.slice(open, close + 1);
      }
      position = close + 1;
    }
    return { text, citations };
  }
}
