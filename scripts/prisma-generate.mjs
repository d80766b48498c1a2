// Runs `prisma generate` without network access. Prisma's CLI wants its native
// schema-engine binary on disk before it will start, although generating the client
// never uses it; pointing PRISMA_SCHEMA_ENGINE_BINARY at any existing file skips the
// download. Users who have the engine installed keep their own setting.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1' };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= fileURLToPath(import.meta.url);

const result = spawnSync('npx', ['--no-install', 'prisma', 'generate', '--schema', 'prisma/schema.prisma'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
