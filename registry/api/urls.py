"""/api/v1/: the schema, its offline documentation and every app's endpoints."""

from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

# Swagger UI and Redoc style their own elements inline; their scripts are served files.
DOCS_STYLES = csp_update({"style-src": ["'unsafe-inline'"]})

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        DOCS_STYLES(
            # The split view serves its start-up script as a file: no inline script.
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="docs",
    ),
    path(
        "redoc/",
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(
                url_name="api:schema", authentication_classes=[], permission_classes=[]
            )
        ),
        name="redoc",
    ),
    # Licensees: releases, cards, manifests; eligibility; feed, webhooks, models.
    path("", include("datasetcards.api.urls")),
    path("", include("datasetcards.api.eligibility_urls")),
    path("", include("propagation.api.urls")),
    # The collection platform; compliance staff.
    path("", include("consent.api.urls")),
    path("staff/", include("consent.api.staff_urls")),
]
