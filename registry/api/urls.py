"""/api/v1/: the schema, its offline documentation and every app's endpoints."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
    path(
        "redoc/",
        SpectacularRedocView.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
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
