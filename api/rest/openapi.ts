// Owns the OpenAPI document of the REST API, one schema per object type from the model's field metadata.
import { OBJECT_TYPES, SCHEMA } from '../../policy/model/index.js';
import { VERSION } from './version.js';

type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3 document with one schema per object type, from the model's field metadata. */
export function openapi(): JsonSchema {
  const schemas: Record<string, JsonSchema> = {};
  const paths: Record<string, JsonSchema> = {};
  for (const t of OBJECT_TYPES) {
    const spec = SCHEMA.get(t);
    if (!spec) continue;
    const properties: Record<string, JsonSchema> = { key: { type: 'string', readOnly: true } };
    for (const f of spec.fields.values()) {
      const p: JsonSchema = {
        type:
          f.type === 'int'
            ? 'integer'
            : f.type === 'float'
              ? 'number'
              : f.type === 'bool'
                ? 'boolean'
                : f.type,
      };
      if (f.type === 'array') p.items = { type: 'string' };
      if (f.formatText !== undefined) p.pattern = f.formatText;
      if (f.length !== undefined) p.maxLength = f.length;
      if (f.min !== undefined) p.minimum = f.min;
      if (f.max !== undefined) p.maximum = f.max;
      if (f.default !== undefined) p.default = f.default;
      properties[f.name] = p;
    }
    schemas[t] = { type: 'object', required: [...spec.key], properties };
    const ref = { $ref: `#/components/schemas/${t}` };
    const body = { content: { 'application/json': { schema: ref } } };
    const ok = { description: 'the object', ...body };
    paths[`/api/v1/${spec.plural}/`] = {
      get: {
        responses: {
          '200': {
            description: 'all objects',
            content: { 'application/json': { schema: { type: 'array', items: ref } } },
          },
        },
      },
    };
    paths[`/api/v1/${spec.plural}/{key}/`] = {
      parameters: [
        {
          name: 'key',
          in: 'path',
          required: true,
          schema: { type: 'string' },
          description: spec.key.join(':'),
        },
      ],
      get: { responses: { '200': ok } },
      post: { requestBody: body, responses: { '200': ok } },
      put: { requestBody: body, responses: { '200': ok } },
      delete: { responses: { '200': { description: 'deleted' } } },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'contiv-ts netmaster', version: VERSION },
    paths,
    components: { schemas },
  };
}
