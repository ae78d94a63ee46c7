import { CompiledSchemas } from '../../adapters/schema-validators.js';

describe('CompiledSchemas: the SDK validators, each distinct schema compiled once per process', () => {
  const outputSchema = { type: 'object', properties: { total: { type: 'number' } }, required: ['total'] } as const;

  test('validates as Ajv does: valid data passes, invalid data is refused with a message', () => {
    const validate = new CompiledSchemas().getValidator<{ total: number }>(outputSchema);
    expect(validate({ total: 3 })).toEqual({ valid: true, data: { total: 3 }, errorMessage: undefined });
    const refused = validate({ total: 'three' });
    expect(refused.valid).toBe(false);
    expect(refused.errorMessage).toContain('total');
  });

  test('the same schema (another object, same JSON) reuses the compiled validator; a changed schema gets its own', () => {
    const schemas = new CompiledSchemas();
    const first = schemas.getValidator(outputSchema);
    expect(schemas.getValidator(JSON.parse(JSON.stringify(outputSchema)))).toBe(first);
    const changed = schemas.getValidator({ ...outputSchema, required: [] });
    expect(changed).not.toBe(first);
    expect(changed({}).valid).toBe(true);
    expect(first({}).valid).toBe(false);
  });

  test('memory stays bounded: past 1000 schemas the least recently used is compiled again when seen again', () => {
    const schemas = new CompiledSchemas();
    const schema = (i: number) => ({ type: 'object', properties: { [`field${i}`]: { type: 'string' } } });
    const oldest = schemas.getValidator(schema(0));
    const recent = schemas.getValidator(schema(1));
    for (let i = 2; i < 1000; i++) schemas.getValidator(schema(i));
    // Using schema 1 again makes schema 0 the least recently used one.
    expect(schemas.getValidator(schema(1))).toBe(recent);
    schemas.getValidator(schema(1000));
    expect(schemas.getValidator(schema(1))).toBe(recent);
    expect(schemas.getValidator(schema(0))).not.toBe(oldest);
  });
});
