# One image for every gridwatch process; the command picks which one runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
ENV GW_HTTP_HOST=0.0.0.0 GW_DATA_DIR=/data
EXPOSE 8080
CMD ["npx", "tsx", "server/main.ts"]
