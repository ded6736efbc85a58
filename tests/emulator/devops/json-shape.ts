// Compares a response with a published example by shape, not by value: every key the example has must be
// there with the same JSON type (an example `null` accepts anything). Arrays compare element by element
// against what all of the example's elements have in common, so a list whose items differ in optional
// fields (type descriptors, data sources) still states a shape.

export type JsonType = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean';

export function jsonType(value: unknown): JsonType {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

/** The shape all values share: keys present everywhere, types that agree; `null` where they do not. */
export function commonShape(values: unknown[]): unknown {
  if (values.length === 0 || values.some((value) => value === null || value === undefined)) return null;
  const types = new Set(values.map(jsonType));
  if (types.size > 1) return null;
  const [type] = [...types];
  if (type === 'object') {
    const objects = values as Array<Record<string, unknown>>;
    const keys = Object.keys(objects[0]).filter((key) => objects.every((object) => key in object));
    return Object.fromEntries(keys.map((key) => [key, commonShape(objects.map((object) => object[key]))]));
  }
  if (type === 'array') {
    const arrays = values as unknown[][];
    return arrays.some((array) => array.length === 0) ? [] : [commonShape(arrays.flat())];
  }
  return values[0];
}

export interface ShapeOptions {
  /** Accept an empty array where the example has elements (content, not shape: e.g. a type's data sources). */
  allowEmptyArrays?: boolean;
}

/** Differences between `actual` and the shape of `example`; empty when the shapes agree. */
export function shapeDifferences(actual: unknown, example: unknown, path = '$', options: ShapeOptions = {}): string[] {
  const expected = jsonType(example);
  if (expected === 'null') return [];
  const found = jsonType(actual);
  if (found !== expected) return [`${path}: expected ${expected}, got ${found}`];
  if (expected === 'object') {
    const differences: string[] = [];
    for (const [key, value] of Object.entries(example as Record<string, unknown>)) {
      if (!(key in (actual as Record<string, unknown>))) differences.push(`${path}.${key}: missing`);
      else differences.push(...shapeDifferences((actual as Record<string, unknown>)[key], value, `${path}.${key}`, options));
    }
    return differences;
  }
  if (expected === 'array') {
    const exampleItems = example as unknown[];
    const actualItems = actual as unknown[];
    if (exampleItems.length === 0) return [];
    if (actualItems.length === 0) return options.allowEmptyArrays ? [] : [`${path}: expected elements, got an empty array`];
    const element = commonShape(exampleItems);
    return actualItems.flatMap((item, index) => shapeDifferences(item, element, `${path}[${index}]`, options));
  }
  return [];
}
