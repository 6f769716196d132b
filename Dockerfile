# syntax=docker/dockerfile:1

# Node 24 (LTS, supported until 2028-04-30; 22 ends 2027-04-30), pinned to one release: the image is rebuilt on
# exactly the runtime CI's second test pass and the benchmarks ran on (test/support/shipped-node.ts reads this
# line), not on whatever `node:24` points to that day. Take a new release (security fixes) by changing both stages
# together; CI then tests on it.
# Build: all dependencies, compile, then drop the dev dependencies so the runtime stage copies production ones only.
FROM node:24.21.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime: compiled code and production node_modules, owned by root and run as the unprivileged `node` user, so
# the process cannot rewrite its own code. argon2 and PGlite ship prebuilt binaries/WASM: no compiler needed.
FROM node:24.21.0-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    STORAGE_LOCAL_DIR=/data/uploads \
    PGLITE_DIR=/data/pglite
WORKDIR /app
# The only writable places: uploads and (without DATABASE_URL) the embedded database. Mount volumes here; a named
# volume mounted on /data/uploads starts with this directory's ownership.
RUN mkdir -p /data/uploads /data/pglite && chown -R node:node /data
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# Liveness only: any HTTP answer below 500 means the process serves requests (slim images have no curl).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.status < 500 ? 0 : 1), () => process.exit(1))"]
# Node flags as in package.json's start:prod (a larger young generation: see bench/README.md, "Runtime flags").
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
