# Multi-stage build used by `fn build` / `fn deploy` (a Dockerfile next to func.yaml wins over `runtime`).
# Stage 1: install everything, type-check and bundle to dist/func.js, then drop dev dependencies.
FROM fnproject/node:22-dev AS build
WORKDIR /function
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Stage 2: the Fn Node 22 runtime image with the bundle and the runtime dependencies only.
FROM fnproject/node:22
WORKDIR /function
COPY --from=build /function/package.json ./
COPY --from=build /function/node_modules ./node_modules
COPY --from=build /function/dist ./dist
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/func.js"]
