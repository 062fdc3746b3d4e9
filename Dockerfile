# syntax=docker/dockerfile:1
# heatgate images (README "Container images"):
#   docker build --target cuda -t heatgate:cuda .   NVIDIA CUDA 12 + cuDNN 9 runtime, ONNX Runtime's CUDA provider
#   docker build --target cpu  -t heatgate:cpu  .   slim Node image, CPU only
# Labels: --build-arg VERSION=... REVISION=$(git rev-parse HEAD) SOURCE=<repository URL>.
# Both run as UID 10001, `ENTRYPOINT ["heatgate"]`, and work on a read-only root filesystem: they write only to
# --out and to /tmp (HOME and TMPDIR; mount an emptyDir there).

# Base images, pinned by full version tag (override with --build-arg, e.g. a digest: node:24.11.1-bookworm-slim@sha256:...).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- build: all dependencies, compile to dist/, then drop the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's CUDA download happens once, in the cuda-provider stage below (.npmrc, which may hold
# registry tokens, stays out of the context).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources copied below; no runtime dependency needs an install
# script (sharp and onnxruntime-node ship prebuilt binaries).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- cuda-provider: ONNX Runtime's CUDA execution provider libraries (from NuGet, by onnxruntime-node's installer) ----
FROM build AS cuda-provider
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- cpu: slim Node image ----
FROM ${NODE_IMAGE} AS cpu
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="heatgate" \
      org.opencontainers.image.description="Grad-CAM heatmap analysis as a model-promotion gate: ONNX in, verdict out (CPU)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN chmod 0755 bin/heatgate.js \
 && ln -s /app/bin/heatgate.js /usr/local/bin/heatgate \
 && groupadd --gid 10001 heatgate \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin heatgate
USER 10001:10001
ENTRYPOINT ["heatgate"]
CMD ["--help"]

# ---- cuda: NVIDIA CUDA 12 + cuDNN 9 runtime, Node from the pinned Node image ----
FROM ${CUDA_IMAGE} AS cuda
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="heatgate" \
      org.opencontainers.image.description="Grad-CAM heatmap analysis as a model-promotion gate: ONNX in, verdict out (CUDA)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${CUDA_IMAGE}"
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
# The Node binary of the same pinned image the build used (official builds need only glibc >= 2.28).
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=cuda-provider /app/package.json ./
COPY --from=cuda-provider /app/node_modules ./node_modules
COPY --from=cuda-provider /app/dist ./dist
COPY --from=cuda-provider /app/bin ./bin
RUN chmod 0755 bin/heatgate.js \
 && ln -s /app/bin/heatgate.js /usr/local/bin/heatgate \
 && groupadd --gid 10001 heatgate \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin heatgate
USER 10001:10001
ENTRYPOINT ["heatgate"]
CMD ["--help"]
