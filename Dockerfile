FROM python:3.11-slim-bookworm

# Pango and fonts for WeasyPrint (French glyphs included); gettext for compilemessages.
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core gettext libpq5 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --upgrade pip && pip install . \
    && useradd --create-home --uid 1000 carm && mkdir -p /app/var /app/staticfiles && chown -R carm /app
USER carm
EXPOSE 8000
CMD ["gunicorn", "carm_portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
