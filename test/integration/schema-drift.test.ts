import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultMigrationsDir, migrateDatabase, readMigrations } from '@pulsebridge/core';
import * as enums from '../../packages/core/src/generated/prisma/enums.js';
import { createEmptyDatabase, databaseUrl } from '../support/services.js';

const GENERATED = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../packages/core/src/generated/prisma');

interface ModelField {
  name: string;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  dbName?: string;
}

/** The generated client's runtime datamodel: models, their table and column names and types. */
function runtimeDataModel(): { models: Record<string, { dbName: string | null; fields: ModelField[] }> } {
  const source = readFileSync(path.join(GENERATED, 'internal/class.ts'), 'utf8');
  const match = /config\.runtimeDataModel = JSON\.parse\((".*")\)/.exec(source);
  if (!match?.[1]) throw new Error('runtimeDataModel not found in the generated client');
  return JSON.parse(JSON.parse(match[1]));
}

/**
 * Nullability and list-ness per field, read from the generated client's `$<Model>Payload`
 * scalar types (Prisma 7's runtime datamodel does not carry them).
 */
function generatedScalarTypes(model: string): Map<string, { nullable: boolean; list: boolean }> {
  const file = path.join(GENERATED, 'models', `${model}.ts`);
  const sourceFile = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const result = new Map<string, { nullable: boolean; list: boolean }>();
  const visit = (node: ts.Node) => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === `$${model}Payload` && ts.isTypeLiteralNode(node.type)) {
      const scalars = node.type.members.find((m) => ts.isPropertySignature(m) && m.name.getText() === 'scalars') as ts.PropertySignature | undefined;
      const reference = scalars?.type;
      const literal = reference && ts.isTypeReferenceNode(reference) ? reference.typeArguments?.[0] : undefined;
      if (!literal || !ts.isTypeLiteralNode(literal)) throw new Error(`unexpected shape of $${model}Payload`);
      for (const member of literal.members) {
        if (!ts.isPropertySignature(member) || !member.type) continue;
        const types = ts.isUnionTypeNode(member.type) ? member.type.types : [member.type];
        result.set(member.name.getText(), {
          nullable: types.some((t) => ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword),
          list: types.some((t) => ts.isArrayTypeNode(t)),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  if (result.size === 0) throw new Error(`no scalar fields found for ${model}`);
  return result;
}

const PG_TYPES: Record<string, string[]> = {
  String: ['text', 'uuid'],
  Int: ['int4'],
  BigInt: ['int8'],
  Boolean: ['bool'],
  DateTime: ['timestamptz'],
  Json: ['jsonb'],
};

let client: pg.Client;

beforeAll(async () => {
  // A truly empty database, migrated by our runner (not copied from the template).
  const url = await createEmptyDatabase(`${inject('runId')}_empty_${randomBytes(3).toString('hex')}`);
  const result = await migrateDatabase(url, defaultMigrationsDir());
  expect(result.applied.length).toBeGreaterThan(0);
  client = new pg.Client({ connectionString: url });
  await client.connect();
});
afterAll(async () => client?.end());

describe('migrations match schema.prisma', () => {
  it('every model has its table, every field its column, with the same nullability and type', async () => {
    const { rows } = await client.query<{ table_name: string; column_name: string; is_nullable: 'YES' | 'NO'; data_type: string; udt_name: string }>(
      "SELECT table_name, column_name, is_nullable, data_type, udt_name FROM information_schema.columns WHERE table_schema = 'public'",
    );
    const columns = new Map(rows.map((row) => [`${row.table_name}.${row.column_name}`, row]));
    const expectedColumns = new Set<string>();
    const problems: string[] = [];

    for (const [model, { dbName, fields }] of Object.entries(runtimeDataModel().models)) {
      const table = dbName ?? model;
      const shapes = generatedScalarTypes(model);
      for (const field of fields.filter((f) => f.kind !== 'object')) {
        const column = field.dbName ?? field.name;
        const key = `${table}.${column}`;
        expectedColumns.add(key);
        const actual = columns.get(key);
        const shape = shapes.get(field.name);
        if (!shape) throw new Error(`${model}.${field.name} missing from the generated types`);
        if (!actual) {
          problems.push(`${key}: missing column`);
          continue;
        }
        // Prisma makes list columns nullable in SQL and never writes NULL to them.
        if (!shape.list && (actual.is_nullable === 'YES') !== shape.nullable) {
          problems.push(`${key}: nullable in database=${actual.is_nullable}, in schema=${shape.nullable}`);
        }
        const udt = shape.list ? actual.udt_name.replace(/^_/, '') : actual.udt_name;
        if (shape.list !== (actual.data_type === 'ARRAY')) problems.push(`${key}: list in schema=${shape.list}, database type ${actual.data_type}`);
        const allowed = field.kind === 'enum' ? [field.type] : (PG_TYPES[field.type] ?? []);
        if (!allowed.includes(udt)) problems.push(`${key}: database type ${udt}, schema type ${field.type}`);
      }
    }
    for (const key of columns.keys()) {
      if (!expectedColumns.has(key) && !key.startsWith('_prisma_migrations.') && !key.startsWith('_pulsebridge_functions.')) problems.push(`${key}: column not in schema.prisma`);
    }
    expect(problems).toEqual([]);
  });

  it('enums have the same values', async () => {
    const { rows } = await client.query<{ name: string; values: string[] }>(
      'SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname',
    );
    const database = Object.fromEntries(rows.map((row) => [row.name, row.values]));
    const schema = Object.fromEntries(Object.entries(enums).map(([name, values]) => [name, Object.values(values as Record<string, string>)]));
    expect(database).toEqual(schema);
  });

  it('records each migration in _prisma_migrations like prisma migrate deploy, and a second run applies nothing', async () => {
    const { rows } = await client.query('SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count, logs FROM _prisma_migrations ORDER BY migration_name');
    const files = await readMigrations(defaultMigrationsDir());
    expect(rows.map((r) => r.migration_name)).toEqual(files.map((f) => f.name));
    for (const [index, row] of rows.entries()) {
      expect(row).toMatchObject({ checksum: files[index]!.checksum, rolled_back_at: null, applied_steps_count: 1, logs: null });
      expect(row.finished_at).toBeInstanceOf(Date);
    }
    const again = await migrateDatabase(databaseUrl(client.database!), defaultMigrationsDir());
    expect(again.applied).toEqual([]);
  });

  it('one open incident per dedup key is enforced by the database', async () => {
    const insert = (status: string) =>
      client.query("INSERT INTO incidents (title, status, severity, dedup_key, entity, triggered_at) VALUES ('t', $1, 'high', 'k', 'dyno', now())", [status]);
    await insert('resolved');
    await insert('triggered');
    await expect(insert('acknowledged')).rejects.toThrow(/incidents_open_dedup_key_key/);
    await insert('resolved');
  });
});

