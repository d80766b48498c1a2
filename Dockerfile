# Build stage: install all dependencies, generate the Prisma client, compile TypeScript, drop dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY prisma/package.json prisma/
COPY test/package.json test/
COPY bench/package.json bench/
RUN npm ci
COPY . .
# config/ may be absent from the context (git does not keep empty folders); the runtime stage copies it.
RUN npm run build && npm prune --omit=dev && mkdir -p config

# Runtime stage: compiled output and production dependencies only, in the repository layout, as the non-root node user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
# Workspace manifests: node_modules/@pulsebridge/* are symlinks to these folders.
COPY --from=build /app/packages/core/package.json packages/core/
COPY --from=build /app/apps/api/package.json apps/api/
COPY --from=build /app/apps/worker/package.json apps/worker/
COPY --from=build /app/prisma/package.json prisma/
COPY --from=build /app/test/package.json test/
COPY --from=build /app/bench/package.json bench/
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/prisma/migrations prisma/migrations
COPY --from=build /app/prisma/functions prisma/functions
COPY --from=build /app/config config
USER node
EXPOSE 3000
# Two malloc arenas, not one per thread (see scripts/lib.mjs).
ENV MALLOC_ARENA_MAX=2
CMD ["node", "--max-old-space-size=192", "apps/api/dist/main.js"]
