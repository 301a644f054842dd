# TeleBot Live Dashboard. No secret is baked in: pass DASHBOARD_* at run time, e.g.
#   docker run -e DASHBOARD_ENV=production -e DASHBOARD_JWT_SECRET=... \
#              -e DASHBOARD_DATABASE_URL=postgresql+asyncpg://... -p 8080:8080 telebot-dashboard
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DASHBOARD_HOST=0.0.0.0 \
    DASHBOARD_PORT=8080

WORKDIR /app
RUN useradd --create-home --uid 10001 dashboard

COPY pyproject.toml README.md ./
COPY dashboard ./dashboard
COPY pages ./pages
COPY components ./components
COPY data/demo_fleet.toml ./data/demo_fleet.toml
RUN pip install . && chown -R dashboard:dashboard /app/data

USER dashboard
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health/live').status == 200 else 1)"
CMD ["python", "-m", "dashboard", "run"]
