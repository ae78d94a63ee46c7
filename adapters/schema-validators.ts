import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';

/** Distinct schemas kept compiled; past this the least recently used is compiled again when next seen. */
const MAX_SCHEMAS = 1_000;

/**
 * The process's JSON Schema validators for the MCP SDK: one Ajv, each distinct schema compiled
 * once. The SDK client compiles every tool's `outputSchema` on each `tools/list`, and the
 * aggregate lists every upstream's tools on every agent `tools/list`: compiling dominated it.
 * Keyed by the schema's JSON, so an upstream that changes a schema gets the new one compiled.
 */
export class CompiledSchemas implements jsonSchemaValidator {
  readonly #ajv = new AjvJsonSchemaValidator();
  readonly #compiled = new Map<string, JsonSchemaValidator<unknown>>();

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = JSON.stringify(schema);
    let validator = this.#compiled.get(key);
    if (validator) {
      this.#compiled.delete(key);
    } else {
      validator = this.#ajv.getValidator<unknown>(schema);
      if (this.#compiled.size >= MAX_SCHEMAS) this.#compiled.delete(this.#compiled.keys().next().value!);
    }
    this.#compiled.set(key, validator);
    return validator as JsonSchemaValidator<T>;
  }
}

/** Shared by every upstream client and every per-request SDK server of the process. */
export const compiledSchemas = new CompiledSchemas();
