# Multi-stage build used by `fn build` / `fn deploy` (func.yaml says `runtime: docker`: this file is
# the whole build; fn reads only name, version, memory and timeout from func.yaml).
# Build for the Functions application's shape: GENERIC_X86 = linux/amd64, GENERIC_ARM =
# linux/arm64 (e.g. `docker buildx build --platform linux/amd64 ...`; `fn deploy` picks it from
# the application's shape).
# Stage 1: install everything, type-check and bundle (scripts/build.mjs): dist/func.js and the SDK
# bundles hold every dependency, so no node_modules is needed at run time.
# scripts/build.mjs reads the runtime's Node flags from package.json ("prom2oci.nodeFlags") to make
# the V8 code caches (dist/*.cache) with this stage's Node (the runtime's); they are trained by one
# invocation of the built function on 127.0.0.1 inside this stage.
FROM fnproject/node:22-dev AS build
WORKDIR /function
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Stage 2: the Fn Node 22 runtime image with only what dist/func.js loads: the launcher, the
# function bundle, the SDK bundle and the feature bundles (state, discovery), each with its code
# cache. A smaller image pulls faster on a cold start; test/image.test.ts runs the function from a
# directory holding exactly these files.
FROM fnproject/node:22
WORKDIR /function
COPY --from=build /function/dist/func.js /function/dist/func-main.js /function/dist/func-main.cache ./dist/
COPY --from=build /function/dist/oci-sdk.js /function/dist/oci-sdk.cache ./dist/
COPY --from=build /function/dist/oci-state.js /function/dist/oci-state.cache /function/dist/oci-discovery.js /function/dist/oci-discovery.cache \
  /function/dist/oci-yaml.js /function/dist/oci-yaml.cache ./dist/
# The flags must equal package.json "prom2oci.nodeFlags" (the code cache is made with them; a test
# starts dist/func.js with this exact command line and checks that V8 accepts the cache).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/func.js"]
