# Multi-stage build used by `fn build` / `fn deploy` (func.yaml says `runtime: docker`: this file is
# the whole build; fn reads only name, version, memory and timeout from func.yaml).
# Build for the Functions application's shape: GENERIC_X86 = linux/amd64, GENERIC_ARM =
# linux/arm64 (e.g. `docker buildx build --platform linux/amd64 ...`; `fn deploy` picks it from
# the application's shape).
# Stage 1: install everything, type-check and bundle to dist/func.js, then drop dev dependencies.
# scripts/build.mjs reads the runtime's Node flags from package.json ("prom2oci.nodeFlags") to make
# dist/oci-sdk.cache, V8's code cache of the SDK bundle, with this stage's Node (the runtime's).
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
# The flags must equal package.json "prom2oci.nodeFlags" (the code cache is made with them; a test
# starts dist/func.js with this exact command line and checks that V8 accepts the cache).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/func.js"]
