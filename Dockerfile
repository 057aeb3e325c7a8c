# One image for every gridwatch process; the command picks which one runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# a larger young generation: per-reading objects die young instead of being promoted (bench/support.ts)
ENV GW_HTTP_HOST=0.0.0.0 GW_DATA_DIR=/data NODE_OPTIONS=--max-semi-space-size=64
EXPOSE 8080
# node itself as PID 1, so that SIGTERM reaches the server's stop (npx exits on it and leaves its child running)
CMD ["node", "--import", "tsx", "server/main.ts"]
