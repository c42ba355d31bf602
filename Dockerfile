# One image for every Outreach service; the Compose file picks the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The runtime set only (requirements.lock); test tools are in requirements-dev.lock.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY ops ./ops
COPY services ./services
COPY infra ./infra
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home outreach
USER outreach
# The migrations live beside the code; services apply pending ones at start.
ENV LOG_FORMAT=json OUTREACH_ENV=production
CMD ["outreach", "--help"]
