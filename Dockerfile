# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=registry.settings

# Japanese glyphs embedded in PDF receipts and cards.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-ipafont-gothic \
 && rm -rf /var/lib/apt/lists/*
ENV PDF_CJK_FONT_PATH=/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin registry

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir registry consent datasetcards \
 && touch registry/__init__.py consent/__init__.py datasetcards/__init__.py \
 && pip install -e . \
 && rm -rf registry consent datasetcards

COPY manage.py ./
COPY registry/ registry/
COPY consent/ consent/
COPY datasetcards/ datasetcards/
COPY templates/ templates/

# Static files are hashed at build time with throwaway secrets (nothing is encrypted
# or signed here); the real secrets arrive through the environment at run time.
RUN env $(python -m registry.generate_keys) DJANGO_ENV=production ALLOWED_HOSTS=build \
      CELERY_BROKER_URL=redis://build:6379/0 \
      python manage.py collectstatic --noinput

USER registry
EXPOSE 8000
CMD ["gunicorn", "registry.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--no-control-socket"]
