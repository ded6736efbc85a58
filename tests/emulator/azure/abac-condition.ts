// Azure ABAC role-assignment conditions (conditionVersion 2.0): a tokenizer, a recursive-descent parser
// and an evaluator for the part of the language that delegation conditions use.
//
// Why a parser: the task's bootstrap identity is constrained by a condition such as
//   ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR
//    (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {g1, g2}
//     AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))
//   AND (...the same for delete, with @Resource...)
// and the emulator must refuse exactly what Azure refuses, whatever spacing, parentheses or operator
// spelling (AND/&&, OR/||, NOT/!) a caller uses. Grammar (case-insensitive keywords):
//
//   condition  := or
//   or         := and (('OR' | '||') and)*
//   and        := unary (('AND' | '&&') unary)*
//   unary      := ('NOT' | '!') unary | primary
//   primary    := '(' or ')' | ('ActionMatches' | 'SubOperationMatches') '{' string '}' | comparison
//   comparison := '@' source '[' attribute ']' operator operand
//   operator   := [quantifier ':'] base        quantifier: ForAnyOfAnyValues | ForAllOfAnyValues | ForAnyOfAllValues | ForAllOfAllValues
//   operand    := value | '{' value (',' value)* '}'        value: 'quoted string' | bare word (GUID, number)
//
// Semantics follow the ABAC docs: a cross-product operator compares the attribute's values with the set;
// an attribute the request does not carry makes its comparison false.

export type Quantifier = 'ForAnyOfAnyValues' | 'ForAllOfAnyValues' | 'ForAnyOfAllValues' | 'ForAllOfAllValues';

const QUANTIFIERS: readonly Quantifier[] = ['ForAnyOfAnyValues', 'ForAllOfAnyValues', 'ForAnyOfAllValues', 'ForAllOfAllValues'];

type Comparer = (attribute: string, value: string) => boolean;

const lower = (text: string): string => text.toLowerCase();
const like = (pattern: string, flags: string) =>
  new RegExp('^' + pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', flags);

/** The base operators the emulator evaluates; any other operator makes the condition invalid here. */
const OPERATORS: Record<string, Comparer> = {
  StringEquals: (a, v) => a === v,
  StringNotEquals: (a, v) => a !== v,
  StringEqualsIgnoreCase: (a, v) => lower(a) === lower(v),
  StringNotEqualsIgnoreCase: (a, v) => lower(a) !== lower(v),
  StringStartsWith: (a, v) => a.startsWith(v),
  StringNotStartsWith: (a, v) => !a.startsWith(v),
  StringStartsWithIgnoreCase: (a, v) => lower(a).startsWith(lower(v)),
  StringNotStartsWithIgnoreCase: (a, v) => !lower(a).startsWith(lower(v)),
  StringLike: (a, v) => like(v, '').test(a),
  StringNotLike: (a, v) => !like(v, '').test(a),
  GuidEquals: (a, v) => lower(a) === lower(v),
  GuidNotEquals: (a, v) => lower(a) !== lower(v),
};

export type ConditionNode =
  | { kind: 'and' | 'or'; left: ConditionNode; right: ConditionNode }
  | { kind: 'not'; operand: ConditionNode }
  | { kind: 'action'; pattern: string; subOperation: boolean }
  | { kind: 'compare'; source: string; attribute: string; quantifier?: Quantifier; operator: string; values: string[] };

export class ConditionSyntaxError extends Error {
  constructor(message: string, readonly position: number) {
    super(`${message} (at character ${position + 1})`);
    this.name = 'ConditionSyntaxError';
  }
}

type Token =
  | { type: 'punct'; value: '(' | ')' | '{' | '}' | ',' | '!' | '&&' | '||'; at: number }
  | { type: 'string'; value: string; at: number }
  | { type: 'attribute'; source: string; name: string; at: number }
  | { type: 'word'; value: string; at: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if ('(){},!'.includes(c)) {
      tokens.push({ type: 'punct', value: c as '(' | ')' | '{' | '}' | ',' | '!', at: i });
      i++;
    } else if (c === '&' || c === '|') {
      if (text[i + 1] !== c) throw new ConditionSyntaxError(`expected '${c}${c}'`, i);
      tokens.push({ type: 'punct', value: c === '&' ? '&&' : '||', at: i });
      i += 2;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ConditionSyntaxError('unterminated string', i);
      tokens.push({ type: 'string', value: text.slice(i + 1, end), at: i });
      i = end + 1;
    } else if (c === '@') {
      const match = /^@([A-Za-z]+)\[([^\]]+)\]/.exec(text.slice(i));
      if (!match) throw new ConditionSyntaxError("expected an attribute such as @Request[Microsoft.Authorization/roleAssignments:PrincipalType]", i);
      tokens.push({ type: 'attribute', source: match[1], name: match[2].trim(), at: i });
      i += match[0].length;
    } else {
      const match = /^[A-Za-z0-9_.:-]+/.exec(text.slice(i));
      if (!match) throw new ConditionSyntaxError(`unexpected character '${c}'`, i);
      tokens.push({ type: 'word', value: match[0], at: i });
      i += match[0].length;
    }
  }
  return tokens;
}

const SOURCES = ['Request', 'Resource', 'Principal', 'Environment'];

class Parser {
  private index = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  parse(): ConditionNode {
    if (this.tokens.length === 0) throw new ConditionSyntaxError('the condition is empty', 0);
    const node = this.or();
    const extra = this.peek();
    if (extra) throw new ConditionSyntaxError('unexpected text after the end of the expression', extra.at);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private position(): number {
    return this.peek()?.at ?? this.length;
  }

  private isWord(token: Token | undefined, ...words: string[]): boolean {
    return token?.type === 'word' && words.some((word) => word.toLowerCase() === token.value.toLowerCase());
  }

  private isPunct(token: Token | undefined, value: string): boolean {
    return token?.type === 'punct' && token.value === value;
  }

  private expectPunct(value: string, what: string): void {
    if (!this.isPunct(this.peek(), value)) throw new ConditionSyntaxError(`expected '${value}' ${what}`, this.position());
    this.index++;
  }

  private or(): ConditionNode {
    let node = this.and();
    while (this.isWord(this.peek(), 'OR') || this.isPunct(this.peek(), '||')) {
      this.index++;
      node = { kind: 'or', left: node, right: this.and() };
    }
    return node;
  }

  private and(): ConditionNode {
    let node = this.unary();
    while (this.isWord(this.peek(), 'AND') || this.isPunct(this.peek(), '&&')) {
      this.index++;
      node = { kind: 'and', left: node, right: this.unary() };
    }
    return node;
  }

  private unary(): ConditionNode {
    if (this.isWord(this.peek(), 'NOT') || this.isPunct(this.peek(), '!')) {
      this.index++;
      return { kind: 'not', operand: this.unary() };
    }
    return this.primary();
  }

  private primary(): ConditionNode {
    const token = this.peek();
    if (this.isPunct(token, '(')) {
      this.index++;
      const node = this.or();
      this.expectPunct(')', 'to close the parenthesis');
      return node;
    }
    if (this.isWord(token, 'ActionMatches', 'SubOperationMatches')) {
      this.index++;
      this.expectPunct('{', `after ${(token as { value: string }).value}`);
      const pattern = this.peek();
      if (pattern?.type !== 'string') throw new ConditionSyntaxError('expected a quoted action pattern', this.position());
      this.index++;
      this.expectPunct('}', 'after the action pattern');
      return { kind: 'action', pattern: pattern.value, subOperation: this.isWord(token, 'SubOperationMatches') };
    }
    if (token?.type === 'attribute') return this.comparison(token);
    throw new ConditionSyntaxError('expected an expression: (, NOT, ActionMatches{...} or an @attribute comparison', this.position());
  }

  private comparison(attribute: Extract<Token, { type: 'attribute' }>): ConditionNode {
    const source = SOURCES.find((known) => known.toLowerCase() === attribute.source.toLowerCase());
    if (!source) throw new ConditionSyntaxError(`unknown attribute source '@${attribute.source}'`, attribute.at);
    this.index++;
    const operatorToken = this.peek();
    if (operatorToken?.type !== 'word') throw new ConditionSyntaxError('expected an operator after the attribute', this.position());
    this.index++;
    const [first, second] = operatorToken.value.split(':');
    const quantifier = second === undefined ? undefined : QUANTIFIERS.find((known) => known.toLowerCase() === first.toLowerCase());
    const baseName = second ?? first;
    const operator = Object.keys(OPERATORS).find((known) => known.toLowerCase() === baseName.toLowerCase());
    if ((second !== undefined && !quantifier) || !operator) {
      throw new ConditionSyntaxError(`unknown or unsupported operator '${operatorToken.value}'`, operatorToken.at);
    }
    const values = this.operand(quantifier !== undefined);
    return { kind: 'compare', source, attribute: attribute.name, quantifier, operator, values };
  }

  private operand(allowSet: boolean): string[] {
    if (this.isPunct(this.peek(), '{')) {
      if (!allowSet) throw new ConditionSyntaxError('a set of values needs a ForAnyOfAnyValues-style operator', this.position());
      this.index++;
      const values = [this.value()];
      while (this.isPunct(this.peek(), ',')) {
        this.index++;
        values.push(this.value());
      }
      this.expectPunct('}', 'to close the set of values');
      return values;
    }
    return [this.value()];
  }

  private value(): string {
    const token = this.peek();
    if (token?.type === 'string' || (token?.type === 'word' && !this.isWord(token, 'AND', 'OR', 'NOT'))) {
      this.index++;
      return token.value;
    }
    throw new ConditionSyntaxError('expected a value (a quoted string or a GUID)', this.position());
  }
}

/** Parses a condition or throws ConditionSyntaxError saying where it went wrong. */
export function parseCondition(text: string): ConditionNode {
  return new Parser(tokenize(text), text.length).parse();
}

/** Attribute values by source (`Request`, `Resource`, ...) and attribute name (case-insensitive). */
export type AttributeSource = Record<string, readonly string[] | undefined>;

export interface ConditionContext {
  /** The action being authorized, e.g. `Microsoft.Authorization/roleAssignments/write`. */
  action: string;
  attributes: Partial<Record<'Request' | 'Resource' | 'Principal' | 'Environment', AttributeSource>>;
}

function attributeValues(context: ConditionContext, source: string, name: string): readonly string[] | undefined {
  const values = context.attributes[source as keyof ConditionContext['attributes']];
  if (!values) return undefined;
  const key = Object.keys(values).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : values[key];
}

function compare(node: Extract<ConditionNode, { kind: 'compare' }>, context: ConditionContext): boolean {
  const actual = attributeValues(context, node.source, node.attribute);
  if (actual === undefined || actual.length === 0) return false;
  const op = OPERATORS[node.operator];
  const matchesAny = (value: string) => node.values.some((expected) => op(value, expected));
  const matchesAll = (value: string) => node.values.every((expected) => op(value, expected));
  switch (node.quantifier) {
    case 'ForAnyOfAnyValues':
      return actual.some(matchesAny);
    case 'ForAllOfAnyValues':
      return actual.every(matchesAny);
    case 'ForAnyOfAllValues':
      return actual.some(matchesAll);
    case 'ForAllOfAllValues':
      return actual.every(matchesAll);
    default:
      return actual.length === 1 && op(actual[0], node.values[0]);
  }
}

export function evaluateCondition(node: ConditionNode, context: ConditionContext): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateCondition(node.left, context) && evaluateCondition(node.right, context);
    case 'or':
      return evaluateCondition(node.left, context) || evaluateCondition(node.right, context);
    case 'not':
      return !evaluateCondition(node.operand, context);
    case 'action':
      // Sub-operations (e.g. blob tag filters) never occur on the control-plane calls the emulator serves.
      return !node.subOperation && like(node.pattern, 'i').test(context.action);
    case 'compare':
      return compare(node, context);
  }
}
