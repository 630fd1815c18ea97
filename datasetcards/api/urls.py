from django.urls import path

from datasetcards.api import views

urlpatterns = [
    path("releases/", views.LicensedReleases.as_view(), name="releases"),
    path("releases/<uuid:release_id>/", views.LicensedRelease.as_view(), name="release"),
]
