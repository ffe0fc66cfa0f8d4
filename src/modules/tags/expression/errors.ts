import { AppError, ErrorClass } from '../../../platform/errors';

export enum ExpressionErrorCode {
  EXPRESSION_INVALID = 'EXPRESSION_INVALID',
}

/** Where an expression went wrong and what the parser wanted there. */
export interface ExpressionError {
  /** 1-based line of the offending token. */
  line: number;
  /** 1-based column, counted in characters (code points), so Chinese text counts one per character. */
  column: number;
  /** 0-based offset into the source string (UTF-16 code units, i.e. a JS string index). */
  offset: number;
  /** What would have been valid here, e.g. `")"` or `a known field`. */
  expected: string;
  /** What was found, e.g. `"totl_spend"` or `end of expression`. */
  found: string;
}

/**
 * A parse or check error in a tag/segment expression: `BAD_USER_INPUT` / `EXPRESSION_INVALID`, with a
 * message that starts with the position (`at 1:17: expected … but found …`) and the same in `detail`.
 */
export class ExpressionSyntaxError extends AppError {
  constructor(
    readonly detail: ExpressionError,
    message: string,
  ) {
    const full = `at ${detail.line}:${detail.column}: ${message}`;
    super(ErrorClass.BAD_USER_INPUT, ExpressionErrorCode.EXPRESSION_INVALID, full, [{ field: 'expression', message: full }]);
    this.name = 'ExpressionSyntaxError';
  }
}

/** Line/column of an offset in `src`; columns count code points. */
export function positionOf(src: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: [...src.slice(lineStart, offset)].length + 1 };
}

export function expressionError(src: string, offset: number, expected: string, found: string, message: string): ExpressionSyntaxError {
  const { line, column } = positionOf(src, offset);
  return new ExpressionSyntaxError({ line, column, offset, expected, found }, message);
}
