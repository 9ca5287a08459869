# One image for every Liaison service; infra/compose.yaml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liaison_common ./liaison_common
COPY services ./services
RUN pip install --no-cache-dir .
RUN mkdir -p /data/rules && chown nobody /data/rules
USER nobody
