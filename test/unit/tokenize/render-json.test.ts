import { describe, expect, test } from 'vitest';
import { UncountableInputError } from '../../../src/tokenize';
import { renderJson, renderNumber, renderString } from '../../../src/tokenize/render-json';

describe('numbers print as a Python backend prints what the literal may have been', () => {
  test.each([
    [1, '1.0'], // `1.0` in the body parses to 1 here, and Python prints 1.0
    [-0, '-0.0'],
    [0.5, '0.5'],
    [123.456, '123.456'],
    [0.0001, '0.0001'],
    [0.000015, '1.5e-05'],
    [1.5e-7, '1.5e-07'],
    [-2.5e-300, '-2.5e-300'],
    // biome-ignore lint/correctness/noPrecisionLoss: the value a JSON parser produces for 9007199254740993
    [9_007_199_254_740_993, '9007199254740992.0'], // below 1e16 a float or an int: the float's repr is longer
    [1e16, '10000000000000000'],
  ])('%d → %s', (value, printed) => {
    expect(renderNumber(value)).toBe(printed);
  });

  test('a huge integer keeps as many digits as its literal had (Python ints keep every digit)', () => {
    const literal = `7${'3'.repeat(300)}`;
    expect(renderNumber(JSON.parse(literal) as number)).toHaveLength(literal.length);
  });
});

describe('strings', () => {
  test.each([
    ['plain', '"plain"'],
    ['say "hi"\n', '"say \\"hi\\"\\n"'],
    ["<b>Tom & Jerry's</b>", '"\\u003cb\\u003eTom \\u0026 Jerry\\u0027s\\u003c/b\\u003e"'],
    ['line\u2028break', '"line\\u2028break"'],
    ['café 北京', '"café 北京"'], // non-ASCII stays raw (ensure_ascii=False)
  ])('%j', (text, printed) => {
    expect(renderString(text)).toBe(printed);
  });
});

describe('layout', () => {
  test('tojson(indent=4) with indentation shortened to one space and counted per depth', () => {
    const rendered = renderJson({ a: [1, { b: 'x' }], c: {}, d: [] }, 'tools');
    expect(rendered.text).toBe('{\n "a": [\n 1.0,\n {\n "b": "x"\n }\n ],\n "c": {},\n "d": []\n}');
    expect(rendered.linesAtDepth).toEqual([1, 4, 3, 1]);
  });

  test('compact: one line, ", " and ": " as Python\'s json.dumps, no indentation to count', () => {
    const rendered = renderJson({ a: [1, { b: 'x' }], c: {}, d: [] }, 'tools', 'compact');
    expect(rendered.text).toBe('{"a": [1.0, {"b": "x"}], "c": {}, "d": []}');
    expect(rendered.linesAtDepth).toEqual([]);
  });

  test('undefined members are skipped, as JSON.stringify does', () => {
    expect(renderJson({ a: undefined, b: [undefined] }, 'x').text).toBe('{\n "b": [\n null\n ]\n}');
  });

  test('errors name the path of the offending value', () => {
    let error: unknown;
    try {
      renderJson({ properties: { size: { enum: [1, Number.POSITIVE_INFINITY] } } }, 'tools[2]');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UncountableInputError);
    expect((error as UncountableInputError).param).toBe('tools[2].properties.size.enum[1]');
  });
});
