# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=registry.settings

# Fonts embedded in every PDF (receipts, statements, reports, cards): IPAGothic for
# Japanese, DejaVu Sans for Latin scripts. registry/pdf.py refuses to render without them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-ipafont-gothic fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
ENV PDF_CJK_FONT_PATH=/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf \
    PDF_LATIN_FONT_DIR=/usr/share/fonts/truetype/dejavu

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin registry

# Dependencies first, so code changes do not reinstall them.
# The versions CI tested (requirements.lock) constrain every package, direct or not.
COPY pyproject.toml README.md requirements.lock ./
RUN for app in registry consent datasetcards compensation speakers propagation; do \
      mkdir "$app" && touch "$app/__init__.py"; done \
 && pip install -c requirements.lock -e . \
 && rm -rf registry consent datasetcards compensation speakers propagation

COPY manage.py ./
COPY registry/ registry/
COPY consent/ consent/
COPY datasetcards/ datasetcards/
COPY compensation/ compensation/
COPY speakers/ speakers/
COPY propagation/ propagation/
COPY templates/ templates/
COPY locale/ locale/

# Static files are hashed at build time with throwaway secrets (nothing is encrypted
# or signed here); the real secrets arrive through the environment at run time.
RUN env $(python -m registry.generate_keys) DJANGO_ENV=production ALLOWED_HOSTS=build \
      CELERY_BROKER_URL=redis://build:6379/0 EMAIL_URL=smtp://build:25 \
      PUBLIC_BASE_URL=https://build python manage.py collectstatic --noinput

# Audio and voiceprints (STORAGES["audio"]) on a volume shared by web and worker: the
# worker deletes what the web stored.
RUN mkdir -p /var/lib/registry/audio && chown registry /var/lib/registry/audio

USER registry
EXPOSE 8000
CMD ["gunicorn", "registry.wsgi", "-c", "python:registry.gunicorn_config", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--no-control-socket"]
