from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from registry import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("speakers.urls")),
    path("", include("datasetcards.urls")),
    path("", include("propagation.urls")),
    path("api/v1/", include(("registry.api.urls", "api"), namespace="api")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler404 = "registry.views.page_not_found"
