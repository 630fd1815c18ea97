"""/api/v1/: the schema, its offline documentation and every app's endpoints."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from datasetcards.api import views as releases

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
    path("releases/", releases.LicensedReleases.as_view(), name="releases"),
    path("releases/<uuid:release_id>/", releases.LicensedRelease.as_view(), name="release"),
]
