# A small image: migrations run, then the server, as a non-root user.
# The browser headset: Twilio's Voice SDK from package-lock.json, served by Openline itself.
FROM node:20-slim AS browser
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY telephony ./telephony
COPY transfers ./transfers
COPY migrations ./migrations
RUN python -m venv /opt/openline && /opt/openline/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 openline
COPY --from=build /opt/openline /opt/openline
COPY --chown=openline alembic.ini /srv/openline/alembic.ini
COPY --chown=openline migrations /srv/openline/migrations
COPY --from=browser /src/node_modules/@twilio/voice-sdk /srv/openline/node_modules/@twilio/voice-sdk
ENV PATH=/opt/openline/bin:$PATH \
    OPENLINE_NODE_MODULES_DIR=/srv/openline/node_modules \
    OPENLINE_DATABASE_URL=sqlite+aiosqlite:////srv/openline/var/openline.db \
    PYTHONUNBUFFERED=1
WORKDIR /srv/openline
RUN mkdir -p var && chown openline var
USER openline
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "openline db upgrade && exec openline serve --host 0.0.0.0 --port 8000"]
