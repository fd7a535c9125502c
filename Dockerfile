# syntax=docker/dockerfile:1
# VORA Gateway image: build with the full toolchain, run on a slim Node 20
# with production dependencies only, as the unprivileged "node" user.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Compile TypeScript (nest build) with every dependency installed.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY client ./client
COPY scripts/build-web.ts ./scripts/
# The API, then the pages it serves (the console with @vora/client, the AsyncAPI viewer) into dist-web/.
RUN npx nest build && npx ts-node --transpile-only scripts/build-web.ts

# 2. Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# 3. Runtime: compiled code, production node_modules, sample directory and
#    event catalogue. Files stay owned by root, so the process cannot change them.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-web ./dist-web
COPY config ./config
USER node
EXPOSE 3000
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
