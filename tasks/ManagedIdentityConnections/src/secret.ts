// A value that must never be printed. Wrapping the job token in a Secret means an accidental
// `JSON.stringify(config)`, template string or debug dump shows `***` instead of the token; only code that
// really sends it (an adapter building an Authorization header) calls reveal().
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [inspect.custom](): string {
    return 'Secret(***)';
  }
}
