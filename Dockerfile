# The public forecast service for Cloud Run: Flask under gunicorn, no statsmodels, no Airflow.
# Build from the repository root: docker build -t gasforecast-service .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gasforecast ./gasforecast
# Only the core and the [serve] extra: flask and gunicorn (the champion is read over MLflow's REST API).
RUN python -m venv /opt/venv && /opt/venv/bin/pip install ".[serve]"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin service
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY service ./service
USER 10001
EXPOSE 8080
# gunicorn.conf.py binds 0.0.0.0:$PORT; workers × threads are documented there (WEB_CONCURRENCY, GUNICORN_THREADS).
CMD ["gunicorn", "--config", "service/gunicorn.conf.py", "service.app:create_app()"]
